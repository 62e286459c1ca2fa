"""`conveyor tasks ...`: list running tasks (app instances) and kill them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.following import follow_deployment
from conveyor.cli.options import (
    DEFAULT_TIMEOUT,
    ForceOption,
    JsonOption,
    NoWaitOption,
    TimeoutOption,
)
from conveyor.cli.output import print_json, print_warning, show
from conveyor.cli.rendering import tasks_table

tasks = typer.Typer(help="Tasks: the running instances of apps.", no_args_is_help=True)


@tasks.command("list")
def list_tasks(
    ctx: typer.Context,
    app_id: Annotated[
        str | None,
        typer.Argument(metavar="APP", help="Only this app's tasks.", show_default=False),
    ] = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Every current task (or APP's): id, app, state, host:ports, health, start time."""
    with server_session(ctx) as client:
        found = client.list_tasks(app_id)
    if as_json:
        print_json({"tasks": found})
    elif found:
        show(tasks_table(found))
    else:
        show(Text("no tasks"))


@tasks.command("kill")
def kill_tasks(
    ctx: typer.Context,
    task_ids: Annotated[
        list[str], typer.Argument(metavar="TASK_ID", help="Ids of the tasks to kill.")
    ],
    *,
    scale: Annotated[
        bool, typer.Option("--scale", help="Lower the apps' instances instead of replacing.")
    ] = False,
    force: ForceOption = False,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
) -> None:
    """Kill tasks. Their apps start replacements, unless --scale lowers the instance count."""
    with server_session(ctx) as client:
        killed = client.kill_tasks(task_ids, scale=scale, force=force)
        if killed.deployment is not None:
            ref = killed.deployment
            show(
                f"killing {len(task_ids)} task(s) and scaling down: deployment {ref.deployment_id}"
            )
            if not no_wait:
                follow_deployment(client, ref, timeout=timeout)
            return
    found = {str(task.get("id")) for task in killed.tasks}
    for task_id in task_ids:
        if task_id not in found:
            print_warning(f"no running task {task_id}")
    if not found:
        raise typer.Exit(EXIT_ERROR)
    show(f"killed {', '.join(sorted(found))}; their apps will replace them")
