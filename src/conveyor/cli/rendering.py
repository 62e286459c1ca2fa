"""How the server's JSON looks in a terminal: tables of apps, tasks and deployments, an app's
summary and its last failure. Pure functions from JSON to Rich renderables."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text

from conveyor.client import JsonObject

NONE = "-"


def short_task_id(task_id: str) -> str:
    """`prod_web.3f2c9a10-...` → `3f2c9a10`: enough to tell an app's tasks apart."""
    _, _, unique = task_id.rpartition(".")
    unique = unique.removeprefix("instance-")
    return unique[:8] if unique else task_id[-8:]


def short_time(timestamp: object) -> str:
    """`2015-09-17T09:32:42.598Z` → `2015-09-17 09:32:42`."""
    if not isinstance(timestamp, str) or not timestamp:
        return NONE
    return timestamp.replace("T", " ").split(".")[0].removesuffix("Z")


def instances_cell(app: JsonObject) -> str:
    return f"{app.get('tasksRunning', 0)}/{app.get('instances', 0)}"


def health_cell(app: JsonObject) -> Text:
    if not app.get("healthChecks"):
        return Text(NONE)
    healthy, unhealthy = app.get("tasksHealthy", 0), app.get("tasksUnhealthy", 0)
    text = Text(f"{healthy}/{app.get('instances', 0)}")
    if unhealthy:
        text.append(f" ({unhealthy} unhealthy)", style="red")
    return text


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else NONE


def _deployment_ids(app: JsonObject) -> str:
    ids = [str(d.get("id", "")) for d in app.get("deployments", [])]
    return ", ".join(ids) or NONE


def apps_table(apps: Iterable[JsonObject]) -> Table:
    table = Table("ID", "RUNNING", "HEALTHY", "CPUS", "MEM", "DEPLOYMENTS", "VERSION")
    for app in apps:
        table.add_row(
            str(app.get("id", "")),
            instances_cell(app),
            health_cell(app),
            _number(app.get("cpus")),
            _number(app.get("mem")),
            _deployment_ids(app),
            short_time(app.get("version")),
        )
    return table


def task_health(task: JsonObject) -> Text:
    results = task.get("healthCheckResults") or []
    if not results:
        return Text(NONE)
    if all(result.get("alive") for result in results):
        return Text("healthy", style="green")
    failures = max(int(result.get("consecutiveFailures", 0)) for result in results)
    if failures == 0:  # never passed, and inside the grace period (failures are not counted)
        return Text("not yet healthy", style="yellow")
    return Text(f"unhealthy ({failures} failure{'' if failures == 1 else 's'})", style="red")


def task_state(task: JsonObject) -> str:
    return str(task.get("state", "")).removeprefix("TASK_").lower() or NONE


def endpoint(task: JsonObject) -> str:
    ports = ",".join(str(port) for port in task.get("ports", []))
    host = str(task.get("host", ""))
    return f"{host}:{ports}" if ports else host or NONE


def tasks_table(tasks: Iterable[JsonObject]) -> Table:
    table = Table("TASK", "APP", "STATE", "HOST:PORTS", "HEALTH", "STARTED")
    for task in tasks:
        table.add_row(
            str(task.get("id", "")),
            str(task.get("appId", "")),
            task_state(task),
            endpoint(task),
            task_health(task),
            short_time(task.get("startedAt")),
        )
    return table


def describe_actions(deployment: JsonObject) -> str:
    actions = deployment.get("currentActions", [])
    described = [f"{a.get('action', '')} {a.get('app', a.get('pod', ''))}" for a in actions]
    return ", ".join(described) or NONE


def deployments_table(deployments: Iterable[JsonObject]) -> Table:
    table = Table("ID", "APPS", "STEP", "CURRENT ACTIONS")
    for deployment in deployments:
        table.add_row(
            str(deployment.get("id", "")),
            ", ".join(deployment.get("affectedApps", [])) or NONE,
            f"{deployment.get('currentStep', 0)}/{deployment.get('totalSteps', 0)}",
            describe_actions(deployment),
        )
    return table


def _program(app: JsonObject) -> str:
    container = app.get("container") or {}
    image = (container.get("docker") or {}).get("image")
    if image:
        return f"image {image}"
    args = app.get("args")
    if args:
        return " ".join(str(arg) for arg in args)
    return str(app.get("cmd") or NONE)


def app_summary(app: JsonObject, *, waiting: Text | None = None) -> Table:
    """The definition's essentials and the app's state, as `key  value` lines; `waiting` says
    why instances wait to launch, when some do."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    labels = app.get("labels") or {}
    rows: list[tuple[str, str | Text]] = [
        ("id", str(app.get("id", ""))),
        ("command", _program(app)),
        ("instances", f"{instances_cell(app)} running, {app.get('tasksStaged', 0)} staged"),
        ("healthy", health_cell(app)),
        ("resources", f"cpus {_number(app.get('cpus'))}, mem {_number(app.get('mem'))} MiB"),
        ("health checks", str(len(app.get("healthChecks") or []))),
        ("labels", ", ".join(f"{k}={v}" for k, v in labels.items()) or NONE),
        ("deployments", ", ".join(str(d.get("id")) for d in app.get("deployments", [])) or NONE),
        ("version", short_time(app.get("version"))),
    ]
    if waiting is not None:
        rows.insert(4, ("waiting", waiting))
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def failure_summary(failure: JsonObject) -> Text:
    """`lastTaskFailure` in one line: when, which task, how it ended and why."""
    state = task_state(failure)
    text = Text(f"{short_time(failure.get('timestamp'))}  ", style="red")
    text.append(f"task {failure.get('taskId', '')} {state} on {failure.get('host', '')}")
    message = failure.get("message")
    if message:
        text.append(f": {message}")
    return text
