"""Where the CLI writes: results to stdout (plain JSON with `--json`), errors to stderr in red.
Consoles are made per call, so they follow the stdout/stderr and terminal of the moment."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from conveyor.client import ClientError


def stdout() -> Console:
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(document: Any) -> None:
    """Raw JSON for scripts: no colours, no wrapping."""
    typer.echo(json.dumps(document, indent=2))


def show(*renderables: RenderableType) -> None:
    """Print to stdout; plain strings are printed as they are (no Rich markup)."""
    stdout().print(*(Text(r) if isinstance(r, str) else r for r in renderables), soft_wrap=True)


def print_success(message: str) -> None:
    stdout().print(Text(message, style="green"), soft_wrap=True)


def print_warning(message: str) -> None:
    stderr().print(Text(message, style="yellow"), soft_wrap=True)


def print_error(message: str) -> None:
    stderr().print(Text(message, style="red"), soft_wrap=True)


def error_text(error: ClientError) -> Text:
    """The server's message and, for refused input, every field it named."""
    text = Text(f"error: {error.message}", style="red")
    for detail in error.details:
        for problem in detail.errors:
            text.append(f"\n  {detail.path}: {problem}", style="red")
    return text


def print_client_error(error: ClientError) -> None:
    stderr().print(error_text(error), soft_wrap=True)
