"""`conveyor logs APP`: what an app's tasks write, read once or followed live (`--follow`),
each line prefixed with a short task id when several tasks speak."""

from __future__ import annotations

import queue
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.following import EXIT_INTERRUPTED
from conveyor.cli.options import AppArgument
from conveyor.cli.output import print_client_error, print_warning, stdout
from conveyor.cli.rendering import short_task_id
from conveyor.client import ClientError, ConveyorClient

PREFIX_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")

# what a follower thread reports: a line, the end of its stream (None), or an error
Report = tuple[str, str | ClientError | None]


class LogPrinter:
    """Prints lines, prefixed with the short id of the task they came from if asked to."""

    def __init__(self, task_ids: list[str], *, prefixed: bool) -> None:
        self.console: Console = stdout()
        self.prefixes = {
            task_id: (f"{short_task_id(task_id)} ", PREFIX_STYLES[i % len(PREFIX_STYLES)])
            for i, task_id in enumerate(task_ids)
        }
        self.prefixed = prefixed

    def print_line(self, task_id: str, line: str) -> None:
        text = Text.assemble(self.prefixes[task_id], line) if self.prefixed else Text(line)
        self.console.print(text, soft_wrap=True)


def _read(client: ConveyorClient, task_ids: list[str], stream: str, printer: LogPrinter) -> None:
    for task_id in task_ids:
        for line in client.read_whole_log(task_id, stream=stream).splitlines():
            printer.print_line(task_id, line)


def _pump(client: ConveyorClient, task_id: str, stream: str, out: queue.Queue[Report]) -> None:
    try:
        for line in client.follow_log(task_id, stream=stream):
            out.put((task_id, line.text))
    except ClientError as error:
        out.put((task_id, error))
        return
    out.put((task_id, None))


def _follow(client: ConveyorClient, task_ids: list[str], stream: str, printer: LogPrinter) -> bool:
    """Print every task's lines as they come until all streams end; False if one failed."""
    reports: queue.Queue[Report] = queue.Queue()
    for task_id in task_ids:
        args = (client, task_id, stream, reports)
        threading.Thread(target=_pump, args=args, daemon=True, name=f"log {task_id}").start()
    open_streams, ok = len(task_ids), True
    while open_streams:
        task_id, item = reports.get()
        if isinstance(item, str):
            printer.print_line(task_id, item)
            continue
        open_streams -= 1
        if isinstance(item, ClientError):
            print_client_error(item)
            ok = False
    return ok


def show_logs(
    ctx: typer.Context,
    app_id: AppArgument,
    *,
    task: Annotated[
        str | None, typer.Option("--task", help="Only this task (default: all of APP's).")
    ] = None,
    stderr: Annotated[bool, typer.Option("--stderr", help="Show stderr, not stdout.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing new output until Ctrl-C.")
    ] = False,
) -> None:
    """Print what APP's tasks wrote (stdout, or stderr with --stderr)."""
    stream = "stderr" if stderr else "stdout"
    with server_session(ctx) as client:
        task_ids = [task] if task else [str(t["id"]) for t in client.list_tasks(app_id)]
        if not task_ids:
            print_warning(f"{app_id} has no tasks")
            return
        printer = LogPrinter(task_ids, prefixed=task is None)
        if not follow:
            _read(client, task_ids, stream, printer)
            return
        try:
            ok = _follow(client, task_ids, stream, printer)
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if not ok:
        raise typer.Exit(EXIT_ERROR)
