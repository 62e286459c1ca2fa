"""Following a build in the terminal: a line each time a step starts, waits for a person or
ends, then how the build ended — exit 1 unless it succeeded, with the steps that failed and
where to read their output."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.text import Text

from conveyor.cli.build_rendering import elapsed, parameter_specs, step_label
from conveyor.cli.connection import EXIT_ERROR
from conveyor.cli.following import EXIT_INTERRUPTED
from conveyor.cli.output import print_error, print_success, show
from conveyor.client import ConveyorClient, JsonObject, all_steps, step_has_ended

FAILED = ("failure", "dead")
ENDINGS = {"failure": "failed", "killed": "was killed"}


class ProgressPrinter:
    """Called with each look at the build; prints what changed since the last look, in the
    order it happened: a step starts before the steps inside it and ends after them."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.announced = False

    def __call__(self, build: JsonObject) -> None:
        if not self.announced and (build.get("commit") or build.get("steps")):
            self.announced = True
            commit = str(build.get("commit") or "?")[:10]
            show(f"{build.get('pipeline')} #{build.get('number')} runs at commit {commit}")
        now = datetime.now(UTC)
        for step in build.get("steps") or []:
            self._visit(build, step, now)

    def _visit(self, build: JsonObject, step: JsonObject, now: datetime) -> None:
        step_id, status = str(step.get("id")), str(step.get("status"))
        changed = status != "pending" and self.seen.get(step_id) != status
        self.seen[step_id] = status
        if changed and not step_has_ended(step):
            show(step_label(step, now))
            if status == "waiting":
                show(waiting_hint(build, step))
        for child in step.get("children") or []:
            self._visit(build, child, now)
        if changed and step_has_ended(step):
            show(step_label(step, now))


def waiting_hint(build: JsonObject, step: JsonObject) -> Text:
    """What a waiting manual trigger asks, and the command that releases it."""
    manual = step.get("manual") or {}
    command = f"conveyor builds release {build.get('pipeline')} {build.get('number')} {step['id']}"
    return Text.assemble(
        ("  ? ", "magenta"),
        str(manual.get("prompt", "")),
        f"  ({parameter_specs(manual.get('parameters'))})",
        ("  release with: ", "dim"),
        command,
    )


def failed_steps(build: JsonObject) -> list[JsonObject]:
    """The steps whose failure failed the build, as the server tells (`failedSteps`: a failed
    condition a junction handled is not one); from an older server, the failed steps that are
    not failed only because a step inside them failed."""
    named = build.get("failedSteps")
    if isinstance(named, list) and named:
        by_id = {str(step.get("id")): step for step in all_steps(build)}
        return [by_id[str(step_id)] for step_id in named if str(step_id) in by_id]
    failed = []
    for step in all_steps(build):
        children = step.get("children") or []
        if step.get("status") in FAILED and not any(c.get("status") in FAILED for c in children):
            failed.append(step)
    return failed


def report_build(build: JsonObject) -> None:
    """Print how the build ended; exit non-zero unless it succeeded."""
    name = f"{build.get('pipeline')} #{build.get('number')}"
    took = elapsed(build, datetime.now(UTC))
    if build.get("status") == "success":
        print_success(f"✔ build {name} succeeded in {took}")
        return
    message = f": {build['message']}" if build.get("message") else ""
    ended = ENDINGS.get(str(build.get("status")), str(build.get("status")))
    print_error(f"✘ build {name} {ended} after {took}{message}")
    for step in failed_steps(build):
        logs = f"conveyor builds logs {build.get('pipeline')} {build.get('number')} {step['id']}"
        print_error(f"  step {step['id']} {step.get('name')}: {step.get('message') or 'failed'}")
        print_error(f"    see `{logs}`")
    raise typer.Exit(EXIT_ERROR)


def follow_build(client: ConveyorClient, pipeline: str, number: int) -> None:
    """Print the build's progress until it ends, then how it ended (see `report_build`)."""
    try:
        build = client.wait_for_build(pipeline, number, on_progress=ProgressPrinter())
    except KeyboardInterrupt:
        print_error(f"stopped following; build {pipeline} #{number} goes on")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    report_build(build)
