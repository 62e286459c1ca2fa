"""The `conveyor` command: the client commands of `conveyor.cli` plus `serve` and `up`, which run
a server in this process. Kept apart from `cli/`, which talks to servers only through `client/`."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli.main import app
from conveyor.domain.limits import MAX_REQUEST_BYTES, MIN_REQUEST_BYTES

ListenOption = Annotated[
    str, typer.Option("--listen", envvar="CONVEYOR_LISTEN", help="HOST:PORT to serve on.")
]
DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir", envvar="CONVEYOR_DATA_DIR", help="Where state, logs and tasks live."
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="CONVEYOR_DATABASE_URL",
        help="postgresql://... to share state; default: SQLite in the data dir.",
    ),
]
HostnameOption = Annotated[
    str,
    typer.Option(
        "--hostname",
        envvar="CONVEYOR_HOSTNAME",
        help="The host tasks are reached at (HOST, health checks, constraints).",
    ),
]
PortRangeOption = Annotated[
    str, typer.Option("--port-range", envvar="CONVEYOR_PORT_RANGE", help="Host ports, FIRST-LAST.")
]
MaxRequestBytesOption = Annotated[
    int,
    typer.Option(
        "--max-request-bytes",
        envvar="CONVEYOR_MAX_REQUEST_BYTES",
        min=MIN_REQUEST_BYTES,
        help="The largest request body accepted (413 beyond it).",
    ),
]
AllowOriginOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-origin",
        envvar="CONVEYOR_ALLOW_ORIGINS",
        help="An origin (https://ci.example.org) besides this server's own whose pages may change "
        "state (repeatable; the variable takes a comma-separated list).",
    ),
]
AttributeOption = Annotated[
    list[str] | None,
    typer.Option("--attribute", help="NAME=VALUE node attribute for constraints (repeatable)."),
]


def listen_problem(listen: str) -> str | None:
    """Why a server could not listen on `listen` (HOST:PORT), or None when it can: tried by
    binding it as uvicorn will (SO_REUSEADDR), before anything is announced or started."""
    host, _, port_text = listen.rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return f"{listen!r} is not HOST:PORT"
    host = host.strip("[]") or "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except socket.gaierror as error:
        return f"unknown host {host!r} ({error.strerror})"
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return f"{listen} is already in use (another Conveyor, or another program)"
        return f"cannot listen on {listen}: {error.strerror or error}"
    return None


def _refuse_unusable(listen: str) -> None:
    problem = listen_problem(listen)
    if problem is None:
        return
    typer.echo(f"conveyor: {problem}.", err=True)
    typer.echo(
        "Choose another address with --listen HOST:PORT or the environment variable "
        "CONVEYOR_LISTEN=HOST:PORT (e.g. CONVEYOR_LISTEN=127.0.0.1:8081 ./scripts/up).",
        err=True,
    )
    raise typer.Exit(1)


def _run(
    *,
    listen: str,
    data_dir: Path,
    database_url: str | None,
    hostname: str,
    port_range: str,
    attributes: list[str] | None,
    with_examples: bool,
    max_request_bytes: int,
    allowed_origins: list[str] | None,
) -> None:
    _refuse_unusable(listen)
    from conveyor.server import Settings, serve

    first, _, last = port_range.partition("-")
    settings = Settings(
        listen=listen,
        data_dir=data_dir,
        database_url=database_url,
        hostname=hostname,
        port_range=(int(first), int(last or first)),
        attributes=dict(a.split("=", 1) for a in attributes or [] if "=" in a),
        with_examples=with_examples,
        max_request_bytes=max_request_bytes,
        allowed_origins=tuple(
            origin for entry in allowed_origins or [] for origin in entry.split(",") if origin
        ),
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=os.environ.get("CONVEYOR_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    typer.echo(f"Conveyor serving on http://{settings.listen} (data in {data_dir})")
    asyncio.run(serve(settings))


def _server_command(*, with_examples: bool) -> Callable[..., None]:
    """`serve` and `up` take the same options; `up` also deploys the example content."""

    def command(
        *,
        listen: ListenOption = "127.0.0.1:8080",
        data_dir: DataDirOption = Path(".conveyor"),
        database_url: DatabaseOption = None,
        hostname: HostnameOption = "127.0.0.1",
        port_range: PortRangeOption = "31000-32000",
        attribute: AttributeOption = None,
        max_request_bytes: MaxRequestBytesOption = MAX_REQUEST_BYTES,
        allow_origin: AllowOriginOption = None,
    ) -> None:
        _run(
            listen=listen,
            data_dir=data_dir,
            database_url=database_url,
            hostname=hostname,
            port_range=port_range,
            attributes=attribute,
            with_examples=with_examples,
            max_request_bytes=max_request_bytes,
            allowed_origins=allow_origin,
        )

    return command


app.command("serve", help="Run a Conveyor server in the foreground.")(
    _server_command(with_examples=False)
)
app.command(
    "up",
    help="Run a server with the embedded defaults; a new data dir gets the example app.",
)(_server_command(with_examples=True))


def main() -> None:
    app()
