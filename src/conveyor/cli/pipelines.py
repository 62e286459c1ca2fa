"""`conveyor pipelines ...`: register, list, show and remove pipelines."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from conveyor.cli.build_rendering import builds_table
from conveyor.cli.connection import EXIT_ERROR, server_session
from conveyor.cli.options import JsonOption
from conveyor.cli.output import print_failure, print_json, print_success, show
from conveyor.cli.pipeline_rendering import pipeline_summary, pipelines_table
from conveyor.client import Conflict

pipelines = typer.Typer(
    help="Pipelines: a repository's conveyor_pipeline.py, built on its commits.",
    no_args_is_help=True,
)

RECENT_BUILDS = 10

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="Name of the pipeline.", show_default=False)
]

# `scheme://...` or git's scp-like `[user@]host:path` (a colon before any slash)
REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/:]+:")


def repository_location(repository: str) -> str:
    """A URL (or `host:path`) as it is; a local directory as an absolute path, since the server
    may run elsewhere in the file system."""
    if REMOTE.match(repository):
        return repository
    return str(Path(repository).expanduser().resolve())


def pipeline_definition(
    name: str, repository: str, *, poll_seconds: int | None, no_poll: bool, **settings: Any
) -> dict[str, Any]:
    """The `POST /api/pipelines` body: only the settings given, so the server's defaults hold
    for the rest."""
    if no_poll and poll_seconds is not None:
        raise typer.BadParameter("give --poll-seconds or --no-poll, not both")
    definition: dict[str, Any] = {"name": name, "repository": repository_location(repository)}
    wire_names = {
        "branch": "branch",
        "file": "file",
        "secret": "secret",
        "max_concurrent": "maxConcurrentBuilds",
        "timeout": "buildTimeoutSeconds",
    }
    for option, wire in wire_names.items():
        if settings.get(option) is not None:
            definition[wire] = settings[option]
    if no_poll or poll_seconds is not None:
        definition["pollSeconds"] = None if no_poll else poll_seconds
    kept = {"keepBuilds": settings.get("keep_builds"), "keepDays": settings.get("keep_days")}
    if any(value is not None for value in kept.values()):
        definition["retention"] = {k: v for k, v in kept.items() if v is not None}
    return definition


@pipelines.command("add")
def add_pipeline(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="1-63 lowercase letters, digits, -.")],
    repository: Annotated[
        str, typer.Argument(metavar="REPOSITORY", help="A git URL or a local directory.")
    ],
    *,
    branch: Annotated[str, typer.Option(help="Branch to build.")] = "main",
    file: Annotated[str, typer.Option(help="The pipeline module in the repository.")] = (
        "conveyor_pipeline.py"
    ),
    secret: Annotated[
        str | None, typer.Option(help="Secret that signs this pipeline's webhooks.")
    ] = None,
    poll_seconds: Annotated[
        int | None,
        typer.Option(
            min=1, help="Look for new commits this often (default: 60).", show_default=False
        ),
    ] = None,
    no_poll: Annotated[
        bool, typer.Option("--no-poll", help="Never poll: build on webhooks and triggers only.")
    ] = False,
    max_concurrent: Annotated[
        int | None, typer.Option(min=1, help="Builds at once (default: 1).", show_default=False)
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option(min=1, help="Kill builds running longer (seconds).", show_default=False),
    ] = None,
    keep_builds: Annotated[
        int | None,
        typer.Option(min=1, help="Keep the newest N builds (default: 500).", show_default=False),
    ] = None,
    keep_days: Annotated[
        int | None, typer.Option(min=1, help="Forget builds older than N days.", show_default=False)
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change the pipeline if NAME exists already.")
    ] = False,
) -> None:
    """Register a pipeline: build REPOSITORY's BRANCH with the pipeline its FILE defines."""
    definition = pipeline_definition(
        name,
        repository,
        poll_seconds=poll_seconds,
        no_poll=no_poll,
        branch=branch,
        file=file,
        secret=secret,
        max_concurrent=max_concurrent,
        timeout=timeout,
        keep_builds=keep_builds,
        keep_days=keep_days,
    )
    with server_session(ctx) as client:
        try:
            if replace:
                added = client.put_pipeline(definition)
            else:
                added = client.create_pipeline(definition)
        except Conflict:
            print_failure(f"pipeline {name} exists already; --replace changes it")
            raise typer.Exit(EXIT_ERROR) from None
    verb = "changed" if replace else "added"
    print_success(f"{verb} pipeline {added['name']}: {added['repository']} ({added['branch']})")
    if not replace:
        show(Text(watching_hint(added), style="dim"))


def watching_hint(pipeline: dict[str, Any]) -> str:
    """What happens next: registering builds nothing."""
    name = pipeline.get("name")
    if pipeline.get("pollSeconds"):
        watched = f"commits pushed to {pipeline.get('branch')} from now on are built"
    else:
        watched = "no polling: webhooks and triggers start builds"
    return f"{watched}; `conveyor builds trigger {name}` builds what is there now"


@pipelines.command("list")
def list_pipelines(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every pipeline: repository, branch, and its last build's number, status and age."""
    with server_session(ctx) as client:
        found = client.list_pipelines()
    if as_json:
        print_json({"pipelines": found})
    elif found:
        show(pipelines_table(found, datetime.now(UTC)))
    else:
        show(Text("no pipelines (add one with `conveyor pipelines add NAME REPOSITORY`)"))


@pipelines.command("show")
def show_pipeline(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """One pipeline: its settings and its recent builds."""
    with server_session(ctx) as client:
        pipeline = client.get_pipeline(name)
        recent = client.list_builds(name, limit=RECENT_BUILDS)
    if as_json:
        print_json(pipeline)
        return
    show(pipeline_summary(pipeline))
    show("")
    if recent.builds:
        show(builds_table(recent.builds, datetime.now(UTC)))
    else:
        show(Text(f"no builds yet (start one with `conveyor builds trigger {name}`)"))


@pipelines.command("remove")
def remove_pipeline(ctx: typer.Context, name: NameArgument) -> None:
    """Forget a pipeline and its builds (kill its unfinished builds first)."""
    with server_session(ctx) as client:
        client.delete_pipeline(name)
    print_success(f"removed pipeline {name} and its builds")
