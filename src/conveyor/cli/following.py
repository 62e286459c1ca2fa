"""Following a deployment: a live progress bar in a terminal, or plain lines as progress is made
when stderr is not one (a script, a pipe, CI), then a clear result. Every command that changes
apps ends here (unless `--no-wait`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.output import print_error, print_success, show, stderr
from conveyor.client import (
    ClientError,
    ConveyorClient,
    DeploymentOutcome,
    DeploymentProgress,
    DeploymentRef,
    DeploymentResult,
)

EXIT_TIMED_OUT = 3
EXIT_INTERRUPTED = 130

Change = Callable[[ConveyorClient], DeploymentRef]


def _instances(client: ConveyorClient, app_id: str) -> str:
    try:
        app = client.get_app(app_id)
    except ClientError:
        return ""
    counts = f"{app.get('tasksRunning', 0)}/{app.get('instances', 0)} running"
    if app.get("healthChecks"):
        counts += f", {app.get('tasksHealthy', 0)} healthy"
    return f" — {counts}"


def describe_progress(progress: DeploymentProgress) -> str:
    actions = ", ".join(f"{a.action} {a.app}" for a in progress.current_actions)
    return actions or f"deployment {progress.deployment_id}"


def describe_step(client: ConveyorClient, seen: DeploymentProgress) -> str:
    """`step 1/2: scale /web — 1/3 running, 0 healthy`."""
    first_app = seen.current_actions[0].app if seen.current_actions else ""
    detail = _instances(client, first_app) if first_app else ""
    return f"step {seen.current_step}/{seen.total_steps}: {describe_progress(seen)}{detail}"


class PlainProgress:
    """Progress as plain lines, one each time what is seen changes, with the seconds since the
    follow began: for a stderr that is not a terminal, where a live bar would show nothing."""

    def __init__(self, client: ConveyorClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.began = time.monotonic()
        self.last = ""

    def __call__(self, seen: DeploymentProgress) -> None:
        line = describe_step(self.client, seen)
        if line != self.last:
            self.last = line
            elapsed = time.monotonic() - self.began
            self.console.print(Text(f"[{elapsed:4.0f}s] {line}"), soft_wrap=True)


def _watch(client: ConveyorClient, ref: DeploymentRef, timeout: float | None) -> DeploymentOutcome:
    console = stderr()
    if not console.is_terminal:
        return client.wait_for_deployment(
            ref.deployment_id,
            timeout=timeout,
            on_progress=PlainProgress(client, console),
            app_ids=ref.app_ids,
        )
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task(f"deployment {ref.deployment_id}", total=None, step="")

        def on_progress(seen: DeploymentProgress) -> None:
            first_app = seen.current_actions[0].app if seen.current_actions else ""
            detail = _instances(client, first_app) if first_app else ""
            progress.update(
                bar,
                description=describe_progress(seen) + detail,
                total=seen.total_steps or None,
                completed=max(seen.current_step - 1, 0),
                step=f"step {seen.current_step}/{seen.total_steps}",
            )

        return client.wait_for_deployment(
            ref.deployment_id, timeout=timeout, on_progress=on_progress, app_ids=ref.app_ids
        )


def report_outcome(outcome: DeploymentOutcome) -> None:
    """Print how the deployment ended; exit non-zero unless it succeeded."""
    if outcome.result is DeploymentResult.SUCCEEDED:
        print_success(f"✔ {outcome.message}")
        return
    print_error(f"✘ {outcome.message}")
    if outcome.result is DeploymentResult.TIMED_OUT:
        print_error("  see `conveyor deployments list`; cancel with `conveyor deployments cancel`")
        raise typer.Exit(EXIT_TIMED_OUT)
    raise typer.Exit(EXIT_ERROR)


def follow_deployment(client: ConveyorClient, ref: DeploymentRef, *, timeout: float) -> None:
    """Follow `ref` until it ends or `timeout` seconds pass (0: no limit)."""
    try:
        outcome = _watch(client, ref, timeout or None)
    except KeyboardInterrupt:
        print_error(f"stopped following; deployment {ref.deployment_id} goes on")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    report_outcome(outcome)


def apply_change(
    ctx: typer.Context, change: Change, *, what: str, wait: bool, timeout: float
) -> None:
    """Make a change through the client, say which deployment carries it out and, if `wait`,
    follow that deployment to its end."""
    with server_session(ctx) as client:
        ref = change(client)
        show(f"{what}: deployment {ref.deployment_id} (version {ref.version or '?'})")
        if wait:
            follow_deployment(client, ref, timeout=timeout)
