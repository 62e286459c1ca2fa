"""Tables and summaries rendered from Marathon's own example documents."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType

from conveyor.cli.output import fit_table, show
from conveyor.cli.rendering import (
    app_summary,
    apps_table,
    deployments_table,
    endpoint,
    failure_summary,
    short_task_id,
    short_time,
    task_health,
    tasks_table,
)

FIXTURES = Path("/work/shared/fixtures/marathon")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def rendered(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=250, color_system=None).print(renderable)
    return buffer.getvalue()


def test_apps_table_shows_instances_resources_deployments_and_version() -> None:
    text = rendered(apps_table(fixture("app_list.json")["apps"]))
    row = next(line for line in text.splitlines() if "/myapp" in line)
    assert "0/3" in row
    assert "0.1" in row
    assert "5" in row
    assert "9538079c" in row
    assert "2015-09-25 15:13:48" in row


def test_apps_table_counts_healthy_instances_only_for_apps_with_health_checks() -> None:
    checked = {"id": "/a", "instances": 2, "tasksRunning": 2, "tasksHealthy": 1}
    checked |= {"tasksUnhealthy": 1, "healthChecks": [{"protocol": "HTTP"}]}
    unchecked = {"id": "/b", "instances": 1, "tasksRunning": 1, "healthChecks": []}
    text = rendered(apps_table([checked, unchecked]))
    assert "1/2 (1 unhealthy)" in next(line for line in text.splitlines() if "/a" in line)
    assert " - " in next(line for line in text.splitlines() if "/b" in line)


def test_tasks_table_shows_state_endpoint_and_start() -> None:
    text = rendered(tasks_table(fixture("tasks.json")["tasks"]))
    assert "frontend-foosball.083be411-5d1f-11e5-88f7-56b91e7a505b" in text
    assert "/frontend-foosball" in text
    assert "running" in text
    assert "srv4.example.com:31292" in text
    assert "2015-09-17 09:32:42" in text


def test_task_health_reports_alive_and_failing_checks() -> None:
    alive = {"healthCheckResults": [{"alive": True, "consecutiveFailures": 0}]}
    failing = {"healthCheckResults": [{"alive": False, "consecutiveFailures": 3}]}
    assert task_health(alive).plain == "healthy"
    assert task_health(failing).plain == "unhealthy (3 failures)"
    in_grace = {"healthCheckResults": [{"alive": False, "consecutiveFailures": 0}]}
    assert task_health(in_grace).plain == "not yet healthy"
    assert task_health({}).plain == "-"


def test_endpoint_joins_host_and_ports() -> None:
    assert endpoint({"host": "h", "ports": [1, 2]}) == "h:1,2"
    assert endpoint({"host": "h", "ports": []}) == "h"


def test_deployments_table_shows_apps_step_and_current_actions() -> None:
    text = rendered(deployments_table(fixture("deployments.json")))
    row = next(line for line in text.splitlines() if "97c136bf" in line)
    assert "97c136bf-5a28-4821-9d94-480d9fbb01c8" in row
    assert "/foo" in row
    assert "1/1" in row
    assert "ScaleApplication /foo" in row


def test_app_summary_shows_command_resources_and_labels() -> None:
    app = fixture("app.json") | {"tasksRunning": 1, "tasksStaged": 0}
    text = rendered(app_summary(app))
    assert app["id"] in text
    assert f"cpus {app['cpus']:g}, mem {app['mem']:g} MiB" in text
    assert "1/" in text


def test_failure_summary_says_which_task_ended_how_and_why() -> None:
    failure = {
        "taskId": "web.1234abcd-0000",
        "state": "TASK_FAILED",
        "host": "127.0.0.1",
        "message": "exited with 1",
        "timestamp": "2024-05-01T10:00:00.000Z",
    }
    text = failure_summary(failure).plain
    assert text == "2024-05-01 10:00:00  task web.1234abcd-0000 failed on 127.0.0.1: exited with 1"


def test_short_ids_and_times() -> None:
    assert short_task_id("prod_web.3f2c9a10-5d1f-11e5") == "3f2c9a10"
    assert short_task_id("minecraft_survival-world.instance-564bd685-4c30") == "564bd685"
    assert short_time("2015-09-17T09:32:42.598Z") == "2015-09-17 09:32:42"
    assert short_time(None) == "-"


LONG_TASKS = [
    {
        "id": "shop_web-frontend.instance-3f2c9a10-1234-11ef-9a5b-0242ac110002",
        "appId": "/shop/web-frontend",
        "state": "TASK_RUNNING",
        "host": "127.0.0.1",
        "ports": [31001, 31002],
        "startedAt": "2026-12-06T03:00:00.000Z",
        "healthCheckResults": [{"alive": False, "consecutiveFailures": 2}],
    }
]
LONG_APP = {"id": "/a-group/with-a-subgroup/and-a-rather-long-app-name", "instances": 1}


def test_piped_tables_print_every_row_whole_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    show(tasks_table(LONG_TASKS), apps_table([LONG_APP | {"tasksRunning": 1}]))
    lines = capsys.readouterr().out.splitlines()
    task_row = next(line for line in lines if LONG_TASKS[0]["id"] in line)
    assert "127.0.0.1:31001,31002" in task_row
    assert "unhealthy (2 failures)" in task_row
    app_row = next(line for line in lines if LONG_APP["id"] in line)
    assert "1/1" in app_row
    assert "…" not in "".join(lines)


def test_terminal_tables_keep_ids_whole_and_fold_the_other_columns() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    console.print(fit_table(tasks_table(LONG_TASKS), terminal=True), soft_wrap=True)
    text = buffer.getvalue()
    assert any(LONG_TASKS[0]["id"] in line for line in text.splitlines())
    assert "…" not in text
    assert "running" in text
    assert "03:00:00" in text
