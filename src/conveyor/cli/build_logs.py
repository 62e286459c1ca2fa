"""`conveyor builds logs PIPELINE NUMBER [STEP]`: what a build's steps wrote, read once or
followed live (`--follow`). Without STEP every step's output comes in step order, each line
prefixed with its step's id; followed, each step is followed to its end before the next."""

from __future__ import annotations

import functools
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.following import EXIT_INTERRUPTED
from conveyor.cli.logs import PREFIX_STYLES
from conveyor.cli.options import BuildArgument, PipelineArgument
from conveyor.cli.output import print_failure, print_warning, stdout
from conveyor.client import (
    ConveyorClient,
    JsonObject,
    all_steps,
    build_has_ended,
    find_step,
    step_has_ended,
)

STEPS_POLL_SECONDS = 0.5


class StepPrinter:
    """Prints lines, prefixed with the id of the step they came from if asked to."""

    def __init__(self, step_ids: list[str], *, prefixed: bool) -> None:
        self.console: Console = stdout()
        width = max(map(len, step_ids), default=0)
        self.prefixes = {
            step_id: (f"{step_id:<{width}} ", PREFIX_STYLES[i % len(PREFIX_STYLES)])
            for i, step_id in enumerate(step_ids)
        }
        self.prefixed = prefixed

    def print_line(self, step_id: str, line: str) -> None:
        text = Text.assemble(self.prefixes[step_id], line) if self.prefixed else Text(line)
        self.console.print(text, soft_wrap=True)


def wait_for_steps(client: ConveyorClient, pipeline: str, number: int) -> JsonObject:
    """The build once its steps are known (its worker has started) or it has ended."""
    while True:
        build = client.get_build(pipeline, number)
        if build.get("steps") or build_has_ended(build):
            return build
        time.sleep(STEPS_POLL_SECONDS)


def chosen_steps(build: JsonObject, step: str | None) -> list[str]:
    """The ids of the steps asked for (all of them, in order, without STEP)."""
    if step is None:
        return [str(s["id"]) for s in all_steps(build)]
    if find_step(build, step) is None:
        print_failure(f"build {build.get('pipeline')} #{build.get('number')} has no step {step}")
        raise typer.Exit(EXIT_ERROR)
    return [step]


def read_outputs(
    client: ConveyorClient, pipeline: str, number: int, step_ids: list[str], printer: StepPrinter
) -> None:
    for step_id in step_ids:
        for line in client.read_step_output(pipeline, number, step_id).splitlines():
            printer.print_line(step_id, line)


def _will_not_run(client: ConveyorClient, pipeline: str, number: int, step_id: str) -> bool:
    """The build has ended without running the step (it failed or was killed before)."""
    build = client.get_build(pipeline, number)
    step = find_step(build, step_id)
    return build_has_ended(build) and (step is None or not step_has_ended(step))


def follow_outputs(
    client: ConveyorClient, pipeline: str, number: int, step_ids: list[str], printer: StepPrinter
) -> None:
    for step_id in step_ids:
        will_not_run = functools.partial(_will_not_run, client, pipeline, number, step_id)
        lines = client.follow_step_output(pipeline, number, step_id, stop_when=will_not_run)
        for line in lines:
            printer.print_line(step_id, line.text)


def show_build_logs(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    number: BuildArgument,
    step: Annotated[
        str | None,
        typer.Argument(metavar="STEP", help="Only this step, e.g. 2.1 (default: every step)."),
    ] = None,
    *,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-F", help="Print new output as it is written, to the end."),
    ] = False,
) -> None:
    """Print what the steps of build NUMBER wrote (every step's, or STEP's)."""
    with server_session(ctx) as client:
        try:
            print_logs(client, pipeline, number, step, follow=follow)
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None


def print_logs(
    client: ConveyorClient, pipeline: str, number: int, step: str | None, *, follow: bool
) -> None:
    if follow:
        build = wait_for_steps(client, pipeline, number)
    else:
        build = client.get_build(pipeline, number)
    if not build.get("steps"):
        print_warning(f"build {pipeline} #{number} has no steps (yet)")
        return
    step_ids = chosen_steps(build, step)
    printer = StepPrinter(step_ids, prefixed=step is None)
    if follow:
        follow_outputs(client, pipeline, number, step_ids, printer)
    else:
        read_outputs(client, pipeline, number, step_ids, printer)
