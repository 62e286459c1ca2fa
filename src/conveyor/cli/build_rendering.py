"""How builds look in a terminal: statuses, durations and ages, a table of builds, a build's
summary and its step tree. Pure functions from the server's JSON (and the time of the look, for
ages and running durations) to Rich renderables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from conveyor.cli.rendering import NONE, short_time
from conveyor.client import JsonObject

STATUS_LOOKS = {
    "queued": ("·", "dim"),
    "pending": ("·", "dim"),
    "skipped": ("–", "dim"),
    "running": ("▶", "cyan"),
    "waiting": ("⏸", "magenta"),
    "success": ("✔", "green"),
    "failure": ("✘", "red"),
    "dead": ("✘", "red"),
    "killed": ("■", "yellow"),
}


def status_text(status: object) -> Text:
    """`✔ success` in green, `✘ failure` in red, and so on."""
    symbol, style = STATUS_LOOKS.get(str(status), ("?", ""))
    return Text(f"{symbol} {status}", style=style)


def parse_time(timestamp: object) -> datetime | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp)
    except ValueError:
        return None


def format_duration(seconds: float) -> str:
    """`0.4s`, `12s`, `2m05s`, `1h02m`."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_age(timestamp: object, now: datetime) -> str:
    """How long before `now` the timestamp was: `5s ago`, `3m ago`, `2h ago`, `4d ago`."""
    moment = parse_time(timestamp)
    if moment is None:
        return NONE
    seconds = max((now - moment).total_seconds(), 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def elapsed(item: JsonObject, now: datetime) -> str:
    """How long a build or step took, or has been going while it runs; `-` before it starts."""
    started, finished = parse_time(item.get("startedAt")), parse_time(item.get("finishedAt"))
    if started is None:
        return NONE
    return format_duration(((finished or now) - started).total_seconds())


def key_values(rows: Iterable[tuple[str, str | Text]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def describe_trigger(build: JsonObject) -> str:
    """`manual by ada`, `webhook by octocat`, `retrigger by ada from #3 at step 2`."""
    trigger = build.get("trigger") or {}
    text = f"{trigger.get('kind', '?')} by {trigger.get('by', '?')}"
    origin = build.get("retriggeredFrom")
    if origin:
        text += f" from #{origin.get('number')} at step {origin.get('step')}"
    return text


def short_commit(commit: object) -> str:
    return str(commit)[:10] if commit else NONE


def builds_table(builds: Iterable[JsonObject], now: datetime) -> Table:
    table = Table("#", "STATUS", "TRIGGER", "COMMIT", "STARTED", "DURATION")
    for build in builds:
        table.add_row(
            str(build.get("number", "")),
            status_text(build.get("status")),
            describe_trigger(build),
            short_commit(build.get("commit")),
            short_time(build.get("startedAt") or build.get("createdAt")),
            elapsed(build, now),
        )
    return table


def pairs(values: object) -> str:
    """`{"version": "2.5", "canary": true}` → `version=2.5 canary=true`."""
    if not isinstance(values, dict) or not values:
        return NONE
    return " ".join(f"{name}={_plain(value)}" for name, value in values.items())


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def retrigger_note(build: JsonObject) -> str | None:
    origin = build.get("retriggeredFrom")
    if not origin:
        return None
    note = f"retriggered from #{origin.get('number')} at step {origin.get('step')}"
    changed = build.get("pipelineFileChanged")
    if changed is True:
        return note + "; the pipeline file has changed since"
    if changed is False:
        return note + "; the pipeline file is unchanged"
    return note


def build_summary(build: JsonObject, now: datetime) -> Table:
    """The build's essentials as `key  value` lines, with notes only where they apply."""
    status = status_text(build.get("status"))
    status.append(f"  {elapsed(build, now)}", style="")
    rows: list[tuple[str, str | Text]] = [
        ("build", f"{build.get('pipeline')} #{build.get('number')}"),
        ("status", status),
        ("trigger", describe_trigger(build)),
        ("commit", str(build.get("commit") or "the branch's head, when it starts")),
        ("created", short_time(build.get("createdAt"))),
    ]
    parameters = (build.get("trigger") or {}).get("parameters")
    if parameters:
        rows.append(("parameters", pairs(parameters)))
    note = retrigger_note(build)
    if note:
        rows.append(("note", note))
    if build.get("message"):
        rows.append(("message", Text(str(build["message"]), style="red")))
    return key_values(rows)


def step_label(step: JsonObject, now: datetime) -> Text:
    """`2.1 unit_tests  ✔ success  3.2s  (reused)  exit code 3`."""
    label = Text.assemble((f"{step.get('id')} ", "bold"), f"{step.get('name')}  ")
    label.append_text(status_text(step.get("status")))
    if step.get("startedAt"):
        label.append(f"  {elapsed(step, now)}")
    if step.get("reused"):
        label.append("  (reused)", style="dim")
    if step.get("message"):
        plain = step.get("status") in ("success", "skipped")
        label.append(f"  {step['message']}", style="" if plain else "red")
    return label


def parameter_specs(specs: object) -> str:
    """`{"version": {"type": "string", "default": "1.0"}}` → `version: string = 1.0`."""
    if not isinstance(specs, dict) or not specs:
        return "no parameters"
    described = []
    for name, given in specs.items():
        spec = given if isinstance(given, dict) else {}
        default = f" = {_plain(spec['default'])}" if "default" in spec else ""
        described.append(f"{name}: {spec.get('type', '?')}{default}")
    return ", ".join(described)


def _add_manual(node: Tree, manual: JsonObject) -> None:
    node.add(
        Text.assemble(
            ("? ", "magenta"),
            str(manual.get("prompt", "")),
            "  ",
            (parameter_specs(manual.get("parameters")), "dim"),
        )
    )
    if manual.get("releasedBy"):
        released = f"released by {manual['releasedBy']} at {short_time(manual.get('releasedAt'))}"
        values = manual.get("releasedParameters")
        node.add(Text(f"{released} with {pairs(values)}" if values else released, style="green"))


def _add_details(node: Tree, details: Iterable[JsonObject]) -> None:
    for detail in details:
        text = Text(str(detail.get("label", "")))
        if detail.get("raw"):
            text.append(f": {detail['raw']}")
        if detail.get("href"):
            text.append(f"  {detail['href']}", style="dim")
        _add_details(node.add(text), detail.get("children") or [])


def _add_step(parent: Tree, step: JsonObject, now: datetime) -> None:
    node = parent.add(step_label(step, now))
    manual = step.get("manual")
    if manual:
        _add_manual(node, manual)  # its details only restate the release
    else:
        _add_details(node, step.get("details") or [])
    for child in step.get("children") or []:
        _add_step(node, child, now)


def build_tree(build: JsonObject, now: datetime) -> Tree:
    """The step tree: each step with its status, duration, message and details; a manual
    trigger with its prompt, its parameters, and who released it with which values."""
    root = Tree(
        Text.assemble(
            f"{build.get('pipeline')} #{build.get('number')}  ", status_text(build.get("status"))
        )
    )
    steps = build.get("steps") or []
    if not steps and build.get("finishedAt"):
        root.add(Text("no steps: the build ended before it ran any (see its message)", style="dim"))
    elif not steps:
        root.add(Text("no steps yet (the build has not started)", style="dim"))
    for step in steps:
        _add_step(root, step, now)
    return root
