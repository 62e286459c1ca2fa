"""`conveyor logs APP`: what an app's tasks write to stdout and stderr, read once or followed live
(`--follow`). Lines from stderr are marked `stderr`; each line is prefixed with a short task id
when several tasks speak. An app with no running task shows its most recently ended one, so a
crashing app's last words can be read by the app's name."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.following import EXIT_INTERRUPTED
from conveyor.cli.options import AppArgument
from conveyor.cli.output import (
    print_client_error,
    print_failure,
    print_warning,
    stdout,
)
from conveyor.cli.rendering import short_task_id, short_time, task_state
from conveyor.client import ClientError, ConveyorClient, JsonObject, normalize_app_id

PREFIX_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")
STREAMS = ("stdout", "stderr")
NEW_TASKS_POLL_SECONDS = 1.0

# what a follower thread reports: a line, the end of its stream (None), or an error
Report = tuple[str, str, str | ClientError | None]


@dataclass(frozen=True)
class Choice:
    """Which output to show: the tasks, the streams, and whether to say whose line it is."""

    task_ids: list[str]
    streams: tuple[str, ...]
    prefixed: bool


class LogPrinter:
    """Prints lines, marked `stderr` when both streams are shown, and prefixed with the short id
    of the task they came from if asked to."""

    def __init__(self, *, prefixed: bool, marked: bool) -> None:
        self.console: Console = stdout()
        self.prefixes: dict[str, tuple[str, str]] = {}
        self.prefixed = prefixed
        self.marked = marked

    def _prefix(self, task_id: str) -> tuple[str, str]:
        if task_id not in self.prefixes:
            style = PREFIX_STYLES[len(self.prefixes) % len(PREFIX_STYLES)]
            self.prefixes[task_id] = (f"{short_task_id(task_id)} ", style)
        return self.prefixes[task_id]

    def print_line(self, task_id: str, stream: str, line: str) -> None:
        text = Text()
        if self.prefixed:
            text.append(*self._prefix(task_id))
        if self.marked and stream == "stderr":
            text.append("stderr ", style="red")
        text.append(line)
        self.console.print(text, soft_wrap=True, overflow="ignore", crop=False)


def _read(client: ConveyorClient, choice: Choice, printer: LogPrinter) -> None:
    for task_id in choice.task_ids:
        for stream in choice.streams:
            for line in client.read_whole_log(task_id, stream=stream).splitlines():
                printer.print_line(task_id, stream, line)


def _pump(
    client: ConveyorClient, task_id: str, stream: str, out: queue.Queue[Report | None]
) -> None:
    try:
        for line in client.follow_log(task_id, stream=stream):
            out.put((task_id, stream, line.text))
    except ClientError as error:
        out.put((task_id, stream, error))
        return
    out.put((task_id, stream, None))


class Follower:
    """Prints every followed stream's lines as they come; with an app, also follows the tasks
    that start while it runs (a crashing app's replacements)."""

    def __init__(self, client: ConveyorClient, choice: Choice, printer: LogPrinter) -> None:
        self.client = client
        self.choice = choice
        self.printer = printer
        self.reports: queue.Queue[Report | None] = queue.Queue()
        self.followed: set[str] = set()
        self.open_streams = 0
        self.ok = True

    def start(self, task_ids: Iterable[str]) -> None:
        for task_id in task_ids:
            if task_id in self.followed:
                continue
            self.followed.add(task_id)
            for stream in self.choice.streams:
                args = (self.client, task_id, stream, self.reports)
                name = f"log {task_id} {stream}"
                threading.Thread(target=_pump, args=args, daemon=True, name=name).start()
                self.open_streams += 1

    def run(self, app_id: str | None) -> bool:
        """Until every stream ends (or forever while following an app); False if one failed."""
        self.start(self.choice.task_ids)
        next_look = time.monotonic() + NEW_TASKS_POLL_SECONDS
        while self.open_streams or app_id is not None:
            try:
                report = self.reports.get(timeout=NEW_TASKS_POLL_SECONDS)
            except queue.Empty:
                report = None
            if report is not None:
                self._take(report)
            if app_id is not None and time.monotonic() >= next_look:
                self.start(str(task["id"]) for task in self.client.list_tasks(app_id))
                next_look = time.monotonic() + NEW_TASKS_POLL_SECONDS
        return self.ok

    def _take(self, report: Report) -> None:
        task_id, stream, item = report
        if isinstance(item, str):
            self.printer.print_line(task_id, stream, item)
            return
        self.open_streams -= 1
        if isinstance(item, ClientError):
            print_client_error(item)
            self.ok = False


def _ended_note(app_id: str, task: JsonObject) -> str:
    how = task_state(task)
    message = task.get("message")
    return (
        f"{app_id} has no running task; showing task {task.get('id')}, "
        f"{how} at {short_time(task.get('endedAt'))}" + (f": {message}" if message else "")
    )


def _tasks_of_app(client: ConveyorClient, app_id: str, ended: int | None) -> list[str]:
    """The app's live tasks, then its `ended` most recently ended ones (by default the last
    one, only when no task runs)."""
    live = [str(task["id"]) for task in client.list_tasks(app_id)]
    wanted = ended if ended is not None else (0 if live else 1)
    if not wanted:
        return live
    gone = client.list_ended_tasks(app_id, limit=wanted)
    if not live and gone:
        print_warning(_ended_note(normalize_app_id(app_id), gone[0]))
    return live + [str(task["id"]) for task in reversed(gone)]


def _streams(*, only_stdout: bool, only_stderr: bool) -> tuple[str, ...]:
    if only_stdout and only_stderr:
        return STREAMS
    if only_stdout:
        return ("stdout",)
    return ("stderr",) if only_stderr else STREAMS


def show_logs(
    ctx: typer.Context,
    app_id: AppArgument,
    *,
    task: Annotated[
        str | None, typer.Option("--task", help="Only this task (default: all of APP's).")
    ] = None,
    only_stdout: Annotated[bool, typer.Option("--stdout", help="Only stdout.")] = False,
    only_stderr: Annotated[bool, typer.Option("--stderr", help="Only stderr.")] = False,
    ended: Annotated[
        int | None,
        typer.Option(
            "--ended",
            min=0,
            max=50,
            help="Also the output of APP's N most recently ended tasks "
            "(default: the last one when no task runs).",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-F", help="Keep printing new output, of new tasks too, until Ctrl-C."
        ),
    ] = False,
) -> None:
    """Print what APP's tasks wrote to stdout and stderr (stderr lines are marked)."""
    streams = _streams(only_stdout=only_stdout, only_stderr=only_stderr)
    with server_session(ctx) as client:
        task_ids = [task] if task else _tasks_of_app(client, app_id, ended)
        if not task_ids and not follow:
            print_failure(f"{normalize_app_id(app_id)} has no tasks, running or ended")
            raise typer.Exit(EXIT_ERROR)
        choice = Choice(task_ids, streams, prefixed=task is None)
        printer = LogPrinter(prefixed=choice.prefixed, marked=len(streams) > 1)
        if not follow:
            _read(client, choice, printer)
            return
        try:
            ok = Follower(client, choice, printer).run(None if task else app_id)
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if not ok:
        raise typer.Exit(EXIT_ERROR)
