"""How pipelines look in a terminal: a table of pipelines with their last builds, and one
pipeline's settings. Pure functions from the server's JSON to Rich renderables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.table import Table
from rich.text import Text

from conveyor.cli.build_rendering import format_age, format_duration, key_values, status_text
from conveyor.cli.rendering import NONE, short_time
from conveyor.client import JsonObject


def last_build_cell(pipeline: JsonObject) -> Text:
    last = pipeline.get("lastBuild")
    if not last:
        return Text(NONE)
    return Text.assemble(f"#{last.get('number')} ", status_text(last.get("status")))


def last_build_age(pipeline: JsonObject, now: datetime) -> str:
    last = pipeline.get("lastBuild") or {}
    return format_age(last.get("finishedAt") or last.get("startedAt") or last.get("createdAt"), now)


def pipelines_table(pipelines: Iterable[JsonObject], now: datetime) -> Table:
    table = Table("NAME", "REPOSITORY", "BRANCH", "LAST BUILD", "AGE")
    for pipeline in pipelines:
        table.add_row(
            str(pipeline.get("name", "")),
            str(pipeline.get("repository", "")),
            str(pipeline.get("branch", "")),
            last_build_cell(pipeline),
            last_build_age(pipeline, now),
        )
    return table


def polling(pipeline: JsonObject) -> str:
    seconds = pipeline.get("pollSeconds")
    return f"every {seconds}s" if seconds else "never (webhooks and triggers only)"


def retention(pipeline: JsonObject) -> str:
    kept = pipeline.get("retention") or {}
    builds, days = kept.get("keepBuilds"), kept.get("keepDays")
    count = f"the newest {builds} builds" if builds else "every build"
    return f"{count}, {f'up to {days} days old' if days else 'of any age'}"


def polling_problem(pipeline: JsonObject) -> Text | None:
    """`git ls-remote failed: ... (since 12:03:04)` in red, when the last poll failed."""
    error = pipeline.get("pollingError")
    if not isinstance(error, dict):
        return None
    return Text(f"{error.get('message')} (at {short_time(error.get('at'))})", style="red")


def pipeline_summary(pipeline: JsonObject) -> Table:
    """The pipeline's settings as `key  value` lines, and why polling fails if it does."""
    timeout = pipeline.get("buildTimeoutSeconds")
    problem = polling_problem(pipeline)
    return key_values(
        [
            ("name", str(pipeline.get("name", ""))),
            ("repository", str(pipeline.get("repository", ""))),
            ("branch", str(pipeline.get("branch", ""))),
            ("file", str(pipeline.get("file", ""))),
            ("webhook secret", "set" if pipeline.get("hasSecret") else "none"),
            ("polling", polling(pipeline)),
            *([("polling error", problem)] if problem is not None else []),
            ("concurrent builds", f"up to {pipeline.get('maxConcurrentBuilds', 1)}"),
            ("build timeout", format_duration(timeout) if timeout else "none"),
            ("keeps", retention(pipeline)),
            ("last build", last_build_cell(pipeline)),
        ]
    )
