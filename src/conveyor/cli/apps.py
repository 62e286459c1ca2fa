"""`conveyor apps ...`: list, show, deploy, scale, restart, roll back and delete apps."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from conveyor.cli.app_status import ended_line, health_lines, waiting_line
from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.following import apply_change
from conveyor.cli.options import (
    DEFAULT_TIMEOUT,
    AppArgument,
    ForceOption,
    JsonOption,
    NoWaitOption,
    TimeoutOption,
)
from conveyor.cli.output import print_failure, print_json, print_warning, show
from conveyor.cli.rendering import app_summary, apps_table, failure_summary, tasks_table
from conveyor.client import normalize_app_id, unknown_fields

apps = typer.Typer(
    help="Long-running services: deploy, scale, restart, roll back, delete.",
    no_args_is_help=True,
)

FileOption = Annotated[
    Path,
    typer.Option(
        "--file", "-f", help="Marathon app definition (JSON); `-` reads stdin.", show_default=False
    ),
]


@apps.command("list")
def list_apps(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every app: instances running/wanted, health, resources, deployments, version."""
    with server_session(ctx) as client:
        found = client.list_apps()
    if as_json:
        print_json({"apps": found})
    else:
        show(apps_table(found))


RECENTLY_ENDED = 3


def _section(title: str, lines: list[Text]) -> None:
    if lines:
        show("")
        show(Text(title, style="bold"))
        for line in lines:
            show(line)


@apps.command("show")
def show_app(ctx: typer.Context, app_id: AppArgument, as_json: JsonOption = False) -> None:
    """One app: its definition in short, its tasks and how their health checks stand, why
    instances wait to launch, how its last tasks ended, and its last task failure."""
    with server_session(ctx) as client:
        app = client.get_app(app_id)
        if as_json:
            print_json({"app": app})
            return
        waiting = client.get_waiting(app_id)
        ended = client.list_ended_tasks(app_id, limit=RECENTLY_ENDED)
    show(app_summary(app, waiting=None if waiting is None else waiting_line(waiting)))
    show("")
    show(tasks_table(app["tasks"]) if app.get("tasks") else Text("no tasks"))
    _section("health checks", list(health_lines(app)))
    _section("recently ended", [ended_line(task) for task in ended])
    failure = app.get("lastTaskFailure")
    if failure:
        _section("last failure", [failure_summary(failure)])


@apps.command("versions")
def list_versions(ctx: typer.Context, app_id: AppArgument, as_json: JsonOption = False) -> None:
    """The versions of APP, newest (the current one) first."""
    with server_session(ctx) as client:
        versions = client.list_app_versions(app_id)
    if as_json:
        print_json({"versions": versions})
        return
    for index, version in enumerate(versions):
        show(f"{version}{'  (current)' if index == 0 else ''}")


def read_definition(file: Path) -> dict[str, Any]:
    """The app definition in `file`, or a red message and exit if it is not one."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        definition = json.loads(text)
    except OSError as error:
        print_failure(f"cannot read {file}: {error.strerror or error}")
        raise typer.Exit(EXIT_ERROR) from None
    except ValueError as error:
        print_failure(f"{file} is not valid JSON: {error}")
        raise typer.Exit(EXIT_ERROR) from None
    if not isinstance(definition, dict) or not isinstance(definition.get("id"), str):
        print_failure(f"{file} is not an app definition: a JSON object with an `id` is expected")
        raise typer.Exit(EXIT_ERROR)
    return definition


@apps.command("deploy")
def deploy_app(
    ctx: typer.Context,
    *,
    file: FileOption,
    force: ForceOption = False,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
) -> None:
    """Create the app FILE describes, or update it if it exists; follow the deployment."""
    definition = read_definition(file)
    for unknown in unknown_fields(definition):
        print_warning(f"warning: {unknown.warning()}")
    what = f"deploying {normalize_app_id(definition['id'])}"
    apply_change(
        ctx,
        lambda client: client.create_or_update_app(definition, force=force),
        what=what,
        wait=not no_wait,
        timeout=timeout,
    )


@apps.command("scale")
def scale_app(
    ctx: typer.Context,
    app_id: AppArgument,
    instances: Annotated[
        int, typer.Argument(min=0, metavar="INSTANCES", help="How many instances to run.")
    ],
    *,
    force: ForceOption = False,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
) -> None:
    """Run INSTANCES instances of APP."""
    apply_change(
        ctx,
        lambda client: client.scale_app(app_id, instances=instances, force=force),
        what=f"scaling {normalize_app_id(app_id)} to {instances}",
        wait=not no_wait,
        timeout=timeout,
    )


@apps.command("restart")
def restart_app(
    ctx: typer.Context,
    app_id: AppArgument,
    *,
    force: ForceOption = False,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
) -> None:
    """Replace every instance of APP, following its upgrade strategy."""
    apply_change(
        ctx,
        lambda client: client.restart_app(app_id, force=force),
        what=f"restarting {normalize_app_id(app_id)}",
        wait=not no_wait,
        timeout=timeout,
    )


@apps.command("rollback")
def rollback_app(
    ctx: typer.Context,
    app_id: AppArgument,
    *,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Version to go back to (default: the previous one)."),
    ] = None,
    force: ForceOption = False,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
) -> None:
    """Deploy an earlier version of APP (see `conveyor apps versions APP`)."""
    apply_change(
        ctx,
        lambda client: client.rollback_app(app_id, version=version, force=force),
        what=f"rolling {normalize_app_id(app_id)} back",
        wait=not no_wait,
        timeout=timeout,
    )


@apps.command("delete")
def delete_app(
    ctx: typer.Context,
    app_id: AppArgument,
    *,
    force: ForceOption = False,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
) -> None:
    """Stop every instance of APP and remove it."""
    apply_change(
        ctx,
        lambda client: client.delete_app(app_id, force=force),
        what=f"deleting {normalize_app_id(app_id)}",
        wait=not no_wait,
        timeout=timeout,
    )
