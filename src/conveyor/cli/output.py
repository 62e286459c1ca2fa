"""Where the CLI writes: results to stdout (plain JSON with `--json`), errors to stderr in red.
Consoles are made per call, so they follow the stdout/stderr and terminal of the moment.

Tables never cut a value short. Piped or redirected (`conveyor apps list | grep web`), stdout has
no width: every row is one line with every value whole. In a terminal, a table's first column
(the id that other commands take) stays whole on one line, and the other columns fold when the
terminal is too narrow."""

from __future__ import annotations

import json
import re
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from conveyor.client import ClientError

UNLIMITED_WIDTH = 1 << 20
"""The width of a stdout that is not a terminal: wide enough that nothing wraps."""


def stdout() -> Console:
    console = Console(highlight=False)
    if console.is_terminal:
        return console
    return Console(highlight=False, width=UNLIMITED_WIDTH)


FOLDED_MIN_WIDTH = 10
"""How narrow a column other than the ids may fold in a terminal."""


def _cell_width(cell: object) -> int:
    return Text(cell).cell_len if isinstance(cell, str) else getattr(cell, "cell_len", 0)


def fit_table(table: Table, *, terminal: bool) -> Table:
    """Make `table` show every value whole: without a terminal nothing wraps or is cut; in one,
    the first column (ids) stays on one line and the others fold rather than end in `…`."""
    for index, column in enumerate(table.columns):
        widest = max(map(_cell_width, [column.header, *column.cells]), default=0)
        if not terminal:
            column.no_wrap, column.overflow = True, "ignore"
        elif index == 0 and table.show_header:
            column.no_wrap, column.overflow = True, "ignore"
            column.min_width = max(column.min_width or 0, widest)
        else:
            column.overflow = "fold"
            column.min_width = max(column.min_width or 0, min(widest, FOLDED_MIN_WIDTH))
    return table


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(document: Any) -> None:
    """Raw JSON for scripts: no colours, no wrapping."""
    typer.echo(json.dumps(document, indent=2))


def show(*renderables: RenderableType) -> None:
    """Print to stdout; plain strings are printed as they are (no Rich markup), tables with
    every value whole (see `fit_table`)."""
    console = stdout()
    for renderable in renderables:
        if isinstance(renderable, str):
            console.print(Text(renderable), soft_wrap=True)
        elif isinstance(renderable, Table):
            # soft_wrap: a table wider than the terminal is not cropped; the terminal wraps it
            console.print(fit_table(renderable, terminal=console.is_terminal), soft_wrap=True)
        else:
            console.print(renderable, soft_wrap=True)


def print_success(message: str) -> None:
    stdout().print(Text(message, style="green"), soft_wrap=True)


def print_warning(message: str) -> None:
    stderr().print(Text(message, style="yellow"), soft_wrap=True)


def print_error(message: str) -> None:
    stderr().print(Text(message, style="red"), soft_wrap=True)


def print_failure(message: str) -> None:
    """Why a command could not do what it was asked, as the server's refusals read."""
    print_error(f"error: {message}")


PROBLEMS = {
    "error.path.missing": "is required",
    "error.expected.jsnumber": "expected a number",
    "error.expected.double": "expected a number",
    "error.expected.int": "expected a whole number",
    "error.expected.jsstring": "expected a string",
    "error.expected.jsboolean": "expected true or false",
    "error.expected.jsarray": "expected a list",
    "error.expected.jsobject": "expected an object",
    "error.expected.jsvalue": "expected a value",
    "error.unknown.enum.literal": "is not one of the allowed values",
    "error.min": "is too small",
    "error.max": "is too large",
    "error.minLength": "is too short",
    "error.maxLength": "is too long",
    "error.pattern": "does not have the expected form",
    "error.expected.uuid": "expected a UUID",
}
"""Marathon's (Play JSON's) error codes, as the API keeps them, in words."""


def field_name(path: str) -> str:
    """`/healthChecks(0)/portIndex` → `healthChecks[0].portIndex`; `/` (the whole body) → ``."""
    return re.sub(r"\((\d+)\)", r"[\1]", path.strip("/")).replace("/", ".")


def describe_problem(path: str, problem: str) -> str:
    """One field error in words: `instances: expected a number`, `cmd: is required`."""
    words = PROBLEMS.get(problem, problem)
    name = field_name(path)
    return f"{name}: {words}" if name else words


def error_text(error: ClientError) -> Text:
    """The server's message and, for refused input, every field it named, in words."""
    text = Text(f"error: {error.message}", style="red")
    for detail in error.details:
        for problem in detail.errors:
            text.append(f"\n  {describe_problem(detail.path, problem)}", style="red")
    return text


def print_client_error(error: ClientError) -> None:
    stderr().print(error_text(error), soft_wrap=True)
