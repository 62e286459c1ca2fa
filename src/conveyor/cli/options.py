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
