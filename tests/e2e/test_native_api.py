"""The native /api (task details with applied limits, logs plain and live), /metrics in both
shapes, and Marathon's smaller endpoints (text task lists, label selectors, groups, queue
reasons, info)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


def deploy(server: ServerProcess, app: dict[str, object]) -> None:
    response = httpx.post(f"{server.url}/v2/apps", json=app, timeout=10)
    assert response.status_code == 201, response.text


def running_tasks(server: ServerProcess, app_id: str) -> list[dict[str, object]]:
    tasks = httpx.get(f"{server.url}/v2/apps{app_id}/tasks").json()["tasks"]
    return [t for t in tasks if t["state"] == "TASK_RUNNING"]


def test_task_output_is_readable_whole_and_live(server: ServerProcess) -> None:
    script = "echo first; echo oops >&2; sleep 1; echo second; exec sleep 1000"
    deploy(server, {"id": "/talker", "cmd": script, "cpus": 0.1, "mem": 32})
    task_id = wait_for(lambda: running_tasks(server, "/talker"))[0]["id"]

    wait_for(
        lambda: b"second" in httpx.get(f"{server.url}/api/tasks/{task_id}/logs").content,
        message="both lines written",
    )
    whole = httpx.get(f"{server.url}/api/tasks/{task_id}/logs")
    assert whole.text == "first\nsecond\n"
    assert int(whole.headers["X-Log-Offset"]) == len(b"first\nsecond\n")
    errors = httpx.get(f"{server.url}/api/tasks/{task_id}/logs", params={"stream": "stderr"})
    assert errors.text == "oops\n"
    tail = httpx.get(f"{server.url}/api/tasks/{task_id}/logs", params={"offset": 6})
    assert tail.text == "second\n"

    lines = []
    headers = {"Accept": "text/event-stream"}
    with httpx.stream("GET", f"{server.url}/api/tasks/{task_id}/logs", headers=headers) as live:
        for line in live.iter_lines():
            if line.startswith("data: "):
                lines.append(line.removeprefix("data: "))
            if len(lines) == 2:
                break
    assert lines == ["first", "second"]

    missing = httpx.get(f"{server.url}/api/tasks/nope.123/logs")
    assert missing.status_code == 404


def test_task_details_show_the_limits_applied(server: ServerProcess) -> None:
    deploy(server, {"id": "/limited", "cmd": "exec sleep 1000", "cpus": 0.5, "mem": 48})
    wait_for(lambda: running_tasks(server, "/limited"))
    tasks = httpx.get(f"{server.url}/api/tasks", params={"app": "limited"}).json()
    assert len(tasks) == 1
    limits = tasks[0]["limits"]
    assert limits["method"] in {"cgroup-v2", "cgroup-v1", "rlimit"}
    if limits["method"] != "rlimit":
        assert limits["memBytes"] == 48 * 1024 * 1024
    one = httpx.get(f"{server.url}/api/tasks/{tasks[0]['id']}").json()
    assert one["pid"] == tasks[0]["pid"] > 0


def test_the_native_api_answers_in_camel_case(server: ServerProcess) -> None:
    deploy(server, {"id": "/camel", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32})
    wait_for(lambda: running_tasks(server, "/camel"))
    [task] = httpx.get(f"{server.url}/api/tasks", params={"app": "camel"}).json()
    assert {"appId", "stagedAt", "startedAt"} <= task.keys()
    assert {"memBytes", "cpuShares", "cpuQuotaUs"} <= task["limits"].keys()
    assert not [key for key in task if "_" in key]
    info = httpx.get(f"{server.url}/api/info").json()
    assert {"dataDir", "hostname", "version"} <= info.keys()
    assert not [key for key in info if "_" in key]


def test_metrics_answer_prometheus_and_marathon_json(server: ServerProcess) -> None:
    deploy(
        server, {"id": "/counted", "cmd": "exec sleep 1000", "instances": 2, "cpus": 0.1, "mem": 32}
    )
    wait_for(lambda: len(running_tasks(server, "/counted")) == 2)
    text = httpx.get(f"{server.url}/metrics").text
    assert "conveyor_apps 1.0" in text
    assert 'conveyor_instances{state="TASK_RUNNING"} 2.0' in text
    assert "conveyor_http_request_seconds" in text
    document = httpx.get(f"{server.url}/metrics", headers={"Accept": "application/json"}).json()
    assert document["gauges"]["conveyor.apps"]["value"] == 1


def test_openapi_documents_the_native_api(server: ServerProcess) -> None:
    paths = httpx.get(f"{server.url}/api/openapi.json").json()["paths"]
    assert "/api/tasks/{task_id}/logs" in paths
    assert "/api/tasks" in paths


def test_label_selectors_text_listing_and_groups(server: ServerProcess) -> None:
    base = {"cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32}
    deploy(server, {**base, "id": "/shop/web", "labels": {"team": "shop", "tier": "web"}})
    deploy(server, {**base, "id": "/shop/db", "labels": {"team": "shop", "tier": "db"}})
    deploy(server, {**base, "id": "/ops/cron", "labels": {"team": "ops"}})
    wait_for(lambda: len(httpx.get(f"{server.url}/v2/tasks").json()["tasks"]) == 3)

    def ids(selector: str) -> set[str]:
        apps = httpx.get(f"{server.url}/v2/apps", params={"label": selector}).json()["apps"]
        return {app["id"] for app in apps}

    assert ids("team==shop") == {"/shop/web", "/shop/db"}
    assert ids("team==shop,tier!=db") == {"/shop/web"}
    assert ids("tier") == {"/shop/web", "/shop/db"}
    assert ids("team in (ops, nobody)") == {"/ops/cron"}
    assert httpx.get(f"{server.url}/v2/apps", params={"label": "team=="}).status_code == 422

    text = httpx.get(f"{server.url}/v2/tasks", headers={"Accept": "text/plain"}).text
    rows = [line.split("\t") for line in text.splitlines()]
    assert {row[0] for row in rows} == {"shop_web", "shop_db", "ops_cron"}
    assert all(len(row) == 3 and row[2].startswith("127.0.0.1:") for row in rows)

    root = httpx.get(f"{server.url}/v2/groups").json()
    assert sorted(g["id"] for g in root["groups"]) == ["/ops", "/shop"]
    shop = httpx.get(f"{server.url}/v2/groups/shop").json()
    assert sorted(a["id"] for a in shop["apps"]) == ["/shop/db", "/shop/web"]
    assert httpx.delete(f"{server.url}/v2/groups/shop").status_code == 200
    wait_for(lambda: len(httpx.get(f"{server.url}/v2/tasks").json()["tasks"]) == 1)
    assert httpx.get(f"{server.url}/v2/groups/shop").status_code == 404


def test_unplaceable_instances_wait_in_the_queue_with_the_reason(server: ServerProcess) -> None:
    app = {
        "id": "/picky",
        "cmd": "exec sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "constraints": [["hostname", "LIKE", "elsewhere.*"]],
    }
    deploy(server, app)

    def queued() -> list[dict[str, object]]:
        return httpx.get(f"{server.url}/v2/queue").json()["queue"]

    item = wait_for(
        lambda: [i for i in queued() if i["processedOffersSummary"]["rejectSummaryLastOffers"]]
    )[0]
    assert item["count"] == 1
    assert (
        item["processedOffersSummary"]["rejectSummaryLastOffers"][0]["reason"]
        == "UnfulfilledConstraint"
    )
    assert running_tasks(server, "/picky") == []


def test_info_and_ping(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/ping").text == "pong"
    info = httpx.get(f"{server.url}/v2/info").json()
    assert info["leader"] == f"127.0.0.1:{server.port}"
    assert info["elected"] is True


def test_a_deployments_end_can_be_asked_for_after_it_is_gone(server: ServerProcess) -> None:
    from conveyor.client import ConveyorClient, DeploymentResult

    quick = httpx.post(
        f"{server.url}/v2/apps",
        json={"id": "/quick", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32},
    )
    quick_id = quick.headers["Marathon-Deployment-Id"]
    wait_for(
        lambda: (
            httpx.get(f"{server.url}/api/deployments/{quick_id}").json()["status"] == "succeeded"
        )
    )

    never_healthy = {
        "id": "/stuck",
        "cmd": "exec sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "false"}}],
    }
    stuck = httpx.post(f"{server.url}/v2/apps", json=never_healthy)
    stuck_id = stuck.headers["Marathon-Deployment-Id"]
    assert httpx.get(f"{server.url}/api/deployments/{stuck_id}").json()["status"] == "running"
    assert httpx.delete(f"{server.url}/v2/deployments/{stuck_id}?force=true").status_code == 202
    assert httpx.get(f"{server.url}/api/deployments/{stuck_id}").json()["status"] == "canceled"
    assert httpx.get(f"{server.url}/api/deployments/no-such-id").status_code == 404

    # a follower that starts only after the cancel still learns it failed
    with ConveyorClient(server.url) as client:
        outcome = client.wait_for_deployment(stuck_id, timeout=10)
    assert outcome.result is DeploymentResult.FAILED


def test_the_app_listing_follows_every_change(server: ServerProcess) -> None:
    """GET /v2/apps reuses its rendering while nothing changed; every change shows at once."""

    def listed() -> dict[str, tuple[int, int]]:
        apps = httpx.get(f"{server.url}/v2/apps").json()["apps"]
        return {a["id"]: (a["instances"], a["tasksRunning"]) for a in apps}

    assert listed() == listed() == {}
    deploy(server, {"id": "/listed", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32})
    assert listed()["/listed"][0] == 1
    wait_for(lambda: listed()["/listed"] == (1, 1), message="running shows in the listing")
    assert httpx.put(f"{server.url}/v2/apps/listed?force=true", json={"instances": 2}).is_success
    assert listed()["/listed"][0] == 2
    wait_for(lambda: listed()["/listed"] == (2, 2), message="the scale shows")
    [task] = running_tasks(server, "/listed")[:1]
    killed = httpx.delete(f"{server.url}/v2/apps/listed/tasks/{task['id']}?scale=true&force=true")
    assert killed.is_success, killed.text
    wait_for(lambda: listed()["/listed"] == (1, 1), message="a killed task shows")


def test_the_queue_says_in_words_why_instances_wait(server: ServerProcess) -> None:
    app = {
        "id": "/spread",
        "cmd": "exec sleep 1000",
        "instances": 3,
        "cpus": 0.1,
        "mem": 32,
        "constraints": [["hostname", "UNIQUE"]],
    }
    deploy(server, app)

    def waiting() -> list[dict[str, object]]:
        items = httpx.get(f"{server.url}/api/queue", params={"app": "spread"}).json()
        return [i for i in items if i["reason"]]

    [item] = wait_for(waiting, message="the unplaced instances")
    assert item == {
        "appId": "/spread",
        "waiting": 2,
        "reason": "hostname UNIQUE: one instance per host; only 1 host (127.0.0.1), "
        "3 instances wanted",
        "launchDelaySeconds": 0,
    }


def test_ended_tasks_are_listed_after_the_live_ones(server: ServerProcess) -> None:
    deploy(server, {"id": "/ending", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32})
    [first] = wait_for(lambda: running_tasks(server, "/ending"))
    killed = httpx.delete(f"{server.url}/v2/apps/ending/tasks/{first['id']}")
    assert killed.is_success, killed.text
    [second] = wait_for(
        lambda: [t for t in running_tasks(server, "/ending") if t["id"] != first["id"]]
    )

    def listed() -> list[dict[str, object]]:
        tasks = httpx.get(f"{server.url}/api/tasks", params={"app": "ending", "ended": 5}).json()
        return tasks if len(tasks) == 2 else []

    live, ended = wait_for(listed, message="the killed task listed as ended")
    assert live["id"] == second["id"]
    assert live["endedAt"] is None
    assert ended["id"] == first["id"]
    assert ended["state"] == "TASK_KILLED"
    assert ended["endedAt"]
    plain = httpx.get(f"{server.url}/api/tasks", params={"app": "ending"}).json()
    assert [t["id"] for t in plain] == [second["id"]]
    log = httpx.get(f"{server.url}/api/tasks/{first['id']}/logs")
    assert log.status_code == 200
