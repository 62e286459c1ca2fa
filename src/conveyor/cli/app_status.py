"""What `conveyor apps show` tells besides the definition and the tasks table: how each task's
health checks stand and why, why instances wait to launch, and how the last tasks ended. Pure
functions from the server's JSON (Marathon's app with its tasks; the native API's queue entry and
ended tasks) to Rich text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from rich.text import Text

from conveyor.cli.rendering import short_time, task_state
from conveyor.client import JsonObject

DEFAULT_GRACE_SECONDS = 300  # Marathon's default gracePeriodSeconds


def check_label(check: JsonObject) -> str:
    """`HTTP /health`, `TCP`, `COMMAND curl -f localhost`."""
    protocol = str(check.get("protocol", "HTTP")).replace("MESOS_", "")
    if protocol in ("HTTP", "HTTPS"):
        return f"{protocol} {check.get('path') or '/'}"
    if protocol == "COMMAND":
        return f"COMMAND {(check.get('command') or {}).get('value', '')}".rstrip()
    return protocol


def _parse_time(timestamp: object) -> datetime | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _failing(result: JsonObject, check: JsonObject) -> Text:
    failures = int(result.get("consecutiveFailures", 0))
    text = Text(f"unhealthy, {_plural(failures, 'failure')} in a row", style="red")
    limit = int(check.get("maxConsecutiveFailures", 3))
    if limit > 0:
        text.append(f" (killed at {limit})", style="red")
    cause = result.get("lastFailureCause")
    if cause:
        text.append(f"; last: {cause}")
    if result.get("lastFailure"):
        text.append(f" at {short_time(result.get('lastFailure'))}")
    return text


def _not_yet_healthy(task: JsonObject, result: JsonObject, check: JsonObject) -> Text:
    """Failures of a task that never passed do not count inside the grace period: say so, when
    they start to count, and the last one's cause."""
    text = Text("not yet healthy", style="yellow")
    started = _parse_time(task.get("startedAt"))
    if started is None:
        return text.append("; not started yet")
    grace = float(check.get("gracePeriodSeconds", DEFAULT_GRACE_SECONDS))
    counted_from = short_time((started + timedelta(seconds=grace)).isoformat())
    text.append(f"; failures count once the grace period ends ({counted_from})")
    cause = result.get("lastFailureCause")
    if cause:
        text.append(f"; last: {cause}")
    return text


def check_standing(task: JsonObject, result: JsonObject, check: JsonObject) -> Text:
    if result.get("alive"):
        return Text("healthy", style="green")
    counted = int(result.get("consecutiveFailures", 0)) > 0
    if counted or (result.get("lastFailureCause") and result.get("firstSuccess")):
        return _failing(result, check)
    return _not_yet_healthy(task, result, check)


def health_lines(app: JsonObject) -> Iterator[Text]:
    """One line per task and check: `TASK_ID  HTTP /health: unhealthy, 2 failures in a row
    (killed at 3); last: HTTP 404 from http://127.0.0.1:31005/health at ...`."""
    checks = app.get("healthChecks") or []
    for task in app.get("tasks") or []:
        results = task.get("healthCheckResults") or []
        for check, result in zip(checks, results, strict=False):
            line = Text(f"{task.get('id', '')}  {check_label(check)}: ")
            yield line.append_text(check_standing(task, result, check))


def waiting_line(waiting: JsonObject) -> Text:
    """Why instances are not launched: a constraint no node meets, or the launch delay after
    failures."""
    count = int(waiting.get("waiting", 0))
    instances = _plural(count, "instance")
    reason = waiting.get("reason")
    if reason:
        return Text(f"{instances} cannot be placed: {reason}", style="yellow")
    delay = int(waiting.get("launchDelaySeconds", 0))
    if delay > 0:
        return Text(
            f"{instances} wait: next launch in {delay} s (backoff after failed tasks; "
            "`curl -X DELETE .../v2/queue/APP/delay` resets it)",
            style="yellow",
        )
    return Text(f"{instances} being launched")


def ended_line(task: JsonObject) -> Text:
    """`2026-12-06 03:00:45  task shop_web.1f0c... killed: unhealthy: HTTP 404 from ...`."""
    text = Text(f"{short_time(task.get('endedAt'))}  ", style="dim")
    text.append(f"task {task.get('id', '')} {task_state(task)}")
    if task.get("message"):
        text.append(f": {task['message']}")
    return text
