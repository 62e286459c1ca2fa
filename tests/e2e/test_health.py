"""Health checks through a real server and real HTTP apps: an instance that fails too often is
killed and replaced; failures before its first success, inside the grace period, do not count;
once it has passed, they count at once."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow

SERVE = "exec python3 -m http.server $PORT0 --bind 127.0.0.1"


def _app(app_id: str, cmd: str, *, path: str, grace: int) -> dict[str, Any]:
    return {
        "id": app_id,
        "cmd": cmd,
        "instances": 1,
        "cpus": 0.1,
        "mem": 64,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": path,
                "portIndex": 0,
                "gracePeriodSeconds": grace,
                "intervalSeconds": 1,
                "timeoutSeconds": 2,
                "maxConsecutiveFailures": 2,
            }
        ],
    }


def _tasks(server: ServerProcess, app_id: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = httpx.get(f"{server.url}/v2/apps{app_id}/tasks").json()["tasks"]
    return tasks


def _running_task(server: ServerProcess, app_id: str) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        tasks = [t for t in _tasks(server, app_id) if t["state"] == "TASK_RUNNING"]
        return tasks[0] if tasks else None

    task: dict[str, Any] = wait_for(running, timeout=20, message=f"a running task of {app_id}")
    return task


def _replaced(server: ServerProcess, app_id: str, task_id: str) -> bool:
    ids = {task["id"] for task in _tasks(server, app_id)}
    return bool(ids) and task_id not in ids


def test_an_instance_that_keeps_failing_is_killed_and_replaced(server: ServerProcess) -> None:
    app = _app("/failing", SERVE, path="/missing", grace=1)  # http.server answers 404
    assert httpx.post(f"{server.url}/v2/apps", json=app).status_code == 201
    first = _running_task(server, "/failing")

    wait_for(
        lambda: _replaced(server, "/failing", first["id"]),
        timeout=30,
        message="the failing instance replaced",
    )
    listed = httpx.get(f"{server.url}/v2/apps/failing").json()["app"]
    assert listed["tasksHealthy"] == 0


def test_failures_before_the_first_success_inside_the_grace_period_do_not_count(
    server: ServerProcess,
) -> None:
    app = _app("/slow-start", SERVE, path="/missing", grace=60)
    assert httpx.post(f"{server.url}/v2/apps", json=app).status_code == 201
    first = _running_task(server, "/slow-start")

    time.sleep(4)  # four probes at least, each a failure; two would kill outside the grace period
    tasks = _tasks(server, "/slow-start")
    assert [task["id"] for task in tasks] == [first["id"]]
    [result] = tasks[0]["healthCheckResults"]
    assert result["alive"] is False
    assert result["consecutiveFailures"] == 0
    listed = httpx.get(f"{server.url}/v2/apps/slow-start").json()["app"]
    assert (listed["tasksHealthy"], listed["tasksUnhealthy"]) == (0, 0)


def test_after_the_first_success_failures_count_inside_the_grace_period(
    server: ServerProcess,
) -> None:
    # healthy while the file is there; it goes after 3 s, and every probe fails from then on
    cmd = f"echo ok > ready; (sleep 3; rm ready) & {SERVE}"
    app = _app("/goes-bad", cmd, path="/ready", grace=60)
    assert httpx.post(f"{server.url}/v2/apps", json=app).status_code == 201
    first = _running_task(server, "/goes-bad")
    wait_for(
        lambda: httpx.get(f"{server.url}/v2/apps/goes-bad").json()["app"]["tasksHealthy"] == 1,
        timeout=20,
        message="the instance healthy",
    )

    wait_for(
        lambda: _replaced(server, "/goes-bad", first["id"]),
        timeout=30,
        message="the instance that went bad replaced, inside its grace period",
    )


def test_a_command_check_sees_the_environment_its_task_was_started_with(
    server: ServerProcess,
) -> None:
    # the app's env, Marathon's variables and the named port: what the task itself sees
    sees_all = (
        'test "$GREETING" = hello && test "$MARATHON_APP_ID" = /checked '
        '&& test "$PORT_WEB" = "$PORT0" && test "$MESOS_TASK_ID" != ""'
    )
    app = {
        "id": "/checked",
        "cmd": "sleep 600",
        "instances": 1,
        "cpus": 0.1,
        "env": {"GREETING": "hello"},
        "portDefinitions": [{"port": 0, "name": "web"}],
        "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": sees_all}, "intervalSeconds": 1}
        ],
    }
    response = httpx.post(f"{server.url}/v2/apps", json=app, timeout=10)
    assert response.status_code == 201, response.text

    def healthy() -> dict[str, Any] | None:
        tasks = _tasks(server, "/checked")
        results = tasks[0].get("healthCheckResults", []) if tasks else []
        return tasks[0] if results and results[0]["alive"] else None

    task = wait_for(healthy, timeout=30, message="the command check to pass")
    assert task["healthCheckResults"][0]["consecutiveFailures"] == 0
