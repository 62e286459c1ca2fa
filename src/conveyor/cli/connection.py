"""How a command reaches the server: the `--server` URL (kept in the Typer context), a client
made from it, and the client's errors turned into a red message and a non-zero exit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from conveyor.cli.output import print_client_error, print_failure
from conveyor.client import DEFAULT_SERVER, ClientError, ConveyorClient, ServerUnreachable

EXIT_ERROR = 1


@dataclass(frozen=True)
class Settings:
    server: str


def settings_of(ctx: typer.Context) -> Settings:
    found = ctx.find_object(Settings)
    if found is not None:
        return found
    return Settings(os.environ.get("CONVEYOR_SERVER", DEFAULT_SERVER))


def unreachable_message(server: str) -> str:
    return f"cannot reach the Conveyor server at {server} — is it running? (`./scripts/up`)"


@contextmanager
def server_session(ctx: typer.Context) -> Iterator[ConveyorClient]:
    """A client of the chosen server; what goes wrong with a request ends the command."""
    server = settings_of(ctx).server
    try:
        with ConveyorClient(server) as client:
            yield client
    except ServerUnreachable:
        print_failure(unreachable_message(server))
        raise typer.Exit(EXIT_ERROR) from None
    except ClientError as error:
        print_client_error(error)
        raise typer.Exit(EXIT_ERROR) from None
