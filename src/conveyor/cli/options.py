"""Options and arguments several commands share."""

from __future__ import annotations

from typing import Annotated

import typer

AppArgument = Annotated[
    str, typer.Argument(metavar="APP", help="App id, e.g. /web or web.", show_default=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the server's JSON instead of a table.")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Override (cancel) deployments that hold the app.")
]
NoWaitOption = Annotated[
    bool, typer.Option("--no-wait", help="Return once the deployment has started.")
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout", help="Seconds to follow the deployment before giving up (0: no limit)."
    ),
]
DEFAULT_TIMEOUT = 300.0

PipelineArgument = Annotated[
    str, typer.Argument(metavar="PIPELINE", help="Name of the pipeline.", show_default=False)
]
BuildArgument = Annotated[
    int, typer.Argument(metavar="NUMBER", min=1, help="Number of the build.", show_default=False)
]
ParameterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--parameter",
        "-p",
        metavar="KEY=VALUE",
        help="A parameter (repeatable).",
        show_default=False,
    ),
]
FollowBuildOption = Annotated[
    bool,
    typer.Option(
        "--follow", "-F", help="Show the build's progress until it ends; exit 1 unless it succeeds."
    ),
]
