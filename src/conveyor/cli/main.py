"""The `conveyor` command's client side: every command here talks to a server over HTTP, through
`conveyor.client`. (`serve` and `up` are added by `conveyor.entry`.)"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from conveyor.cli.apps import apps
from conveyor.cli.builds import builds
from conveyor.cli.connection import Settings
from conveyor.cli.deployments import deployments
from conveyor.cli.logs import show_logs
from conveyor.cli.pipelines import pipelines
from conveyor.cli.tasks import tasks
from conveyor.client import DEFAULT_SERVER

app = typer.Typer(
    name="conveyor",
    help="Conveyor: deploy and run services, jobs and pipelines.",
    no_args_is_help=True,
    add_completion=False,
)

ServerOption = Annotated[
    str,
    typer.Option(
        "--server", envvar="CONVEYOR_SERVER", help="URL of the Conveyor server to talk to."
    ),
]


def installed_version() -> str:
    try:
        return version("conveyor")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"conveyor {installed_version()}")
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version",
        callback=print_version,
        is_eager=True,
        help="Print the version of this command and exit.",
    ),
]


@app.callback()
def choose_server(
    ctx: typer.Context, server: ServerOption = DEFAULT_SERVER, show_version: VersionOption = False
) -> None:
    """Conveyor: deploy and run services, jobs and pipelines."""
    ctx.obj = Settings(server.rstrip("/"))


app.add_typer(apps, name="apps")
app.add_typer(tasks, name="tasks")
app.add_typer(deployments, name="deployments")
app.command("logs")(show_logs)
app.add_typer(pipelines, name="pipelines")
app.add_typer(builds, name="builds")
