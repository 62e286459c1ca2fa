"""`conveyor builds ...`: list and show a pipeline's builds, trigger and retrigger them, follow
them, kill them, release their manual triggers, and read their steps' output."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.text import Text

from conveyor.cli.build_following import follow_build
from conveyor.cli.build_logs import show_build_logs
from conveyor.cli.build_rendering import build_summary, build_tree, builds_table, pairs
from conveyor.cli.connection import server_session
from conveyor.cli.options import (
    BuildArgument,
    FollowBuildOption,
    JsonOption,
    ParameterOption,
    PipelineArgument,
)
from conveyor.cli.output import print_json, print_success, show

builds = typer.Typer(
    help="Builds: runs of a pipeline, their steps and their output.", no_args_is_help=True
)


def local_user() -> str:
    """Who is at the keyboard, as builds record it (`by`)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def parse_parameters(given: list[str] | None) -> dict[str, str]:
    """`["version=2.5", "note=a=b"]` → `{"version": "2.5", "note": "a=b"}`; the server types
    the values."""
    parameters: dict[str, str] = {}
    for item in given or []:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="-p")
        parameters[key.strip()] = value
    return parameters


ByOption = Annotated[
    str | None,
    typer.Option(
        "--by", help="Who does it, as recorded (default: your user name).", show_default=False
    ),
]


@builds.command("list")
def list_builds(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    *,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many builds.")] = 20,
    before: Annotated[
        int | None, typer.Option(min=1, help="Only builds numbered below.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """PIPELINE's builds, newest first: number, status, trigger, commit, start, duration."""
    with server_session(ctx) as client:
        page = client.list_builds(pipeline, limit=limit, before=before)
    if as_json:
        print_json(page.to_json())
        return
    if not page.builds:
        show(Text(f"no builds of {pipeline}"))
        return
    show(builds_table(page.builds, datetime.now(UTC)))
    if page.next_before is not None:
        show(Text(f"older: conveyor builds list {pipeline} --before {page.next_before}", "dim"))


@builds.command("show")
def show_build(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    number: BuildArgument,
    *,
    as_json: JsonOption = False,
) -> None:
    """One build: how it was triggered and how it went, and its steps as a tree."""
    with server_session(ctx) as client:
        build = client.get_build(pipeline, number)
    if as_json:
        print_json(build)
        return
    now = datetime.now(UTC)
    show(build_summary(build, now))
    show("")
    show(build_tree(build, now))


@builds.command("follow")
def follow_existing_build(
    ctx: typer.Context, pipeline: PipelineArgument, number: BuildArgument
) -> None:
    """Print build NUMBER's progress until it ends, then how it ended (exit status 0 only when
    it succeeded), as `trigger --follow` does."""
    with server_session(ctx) as client:
        follow_build(client, pipeline, number)


@builds.command("trigger")
def trigger_build(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    *,
    parameter: ParameterOption = None,
    commit: Annotated[
        str | None,
        typer.Option(help="Build this commit (default: the branch's head).", show_default=False),
    ] = None,
    by: ByOption = None,
    follow: FollowBuildOption = False,
) -> None:
    """Start a build of PIPELINE and print its number."""
    parameters = parse_parameters(parameter)
    with server_session(ctx) as client:
        build = client.trigger_build(
            pipeline, parameters=parameters, commit=commit, by=by or local_user()
        )
        show(f"triggered {pipeline} #{build['number']}")
        if follow:
            follow_build(client, pipeline, int(build["number"]))


@builds.command("retrigger")
def retrigger_build(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    number: BuildArgument,
    *,
    step: Annotated[str, typer.Option("--step", help="Run again from this step, e.g. 3 or 2.1.")],
    by: ByOption = None,
    follow: FollowBuildOption = False,
) -> None:
    """Run build NUMBER again from STEP: a new build of the same commit that reuses what the
    steps before STEP did."""
    with server_session(ctx) as client:
        build = client.retrigger_build(pipeline, number, step=step, by=by or local_user())
        show(f"retriggered {pipeline} #{number} from step {step} as #{build['number']}")
        if follow:
            follow_build(client, pipeline, int(build["number"]))


@builds.command("kill")
def kill_build(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    number: BuildArgument,
    *,
    step: Annotated[
        str | None,
        typer.Option("--step", help="Kill only this step (default: the whole build)."),
    ] = None,
) -> None:
    """Kill build NUMBER, or one of its steps (the build then goes on as the pipeline says)."""
    with server_session(ctx) as client:
        if step is None:
            client.kill_build(pipeline, number)
        else:
            client.kill_step(pipeline, number, step)
    what = f"{pipeline} #{number}" if step is None else f"step {step} of {pipeline} #{number}"
    show(f"killing {what}")


@builds.command("release")
def release_step(
    ctx: typer.Context,
    pipeline: PipelineArgument,
    number: BuildArgument,
    step: Annotated[str, typer.Argument(metavar="STEP", help="The waiting manual trigger.")],
    *,
    parameter: ParameterOption = None,
    by: ByOption = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="If the step does not wait yet, wait until it does (up to 10 minutes)."
        ),
    ] = False,
) -> None:
    """Release the manual trigger STEP of build NUMBER (parameters not given take their
    defaults)."""
    parameters = parse_parameters(parameter)
    with server_session(ctx) as client:
        if wait:
            client.wait_until_step_waits(pipeline, number, step)
        released = client.release_step(
            pipeline, number, step, by=by or local_user(), parameters=parameters
        )
    values = pairs(released.get("parameters"))
    print_success(f"released step {step} of {pipeline} #{number} as {released['by']}: {values}")


builds.command("logs")(show_build_logs)
