"""End to end: the `conveyor` command, in process, against a real server with real tasks."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from conveyor.cli.main import app
from conveyor.client import ConveyorClient, DeploymentOutcome, DeploymentResult
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow

SLEEPER = {"id": "/sleeper", "cmd": "sleep 1000", "instances": 1, "cpus": 0.1, "mem": 32}
NEVER_HEALTHY = SLEEPER | {
    "id": "/stuck",
    "healthChecks": [
        {
            "protocol": "COMMAND",
            "command": {"value": "false"},
            "gracePeriodSeconds": 300,
            "intervalSeconds": 60,
        }
    ],
}


def conveyor(server: ServerProcess, *args: str) -> Result:
    """Run `conveyor --server URL ARGS...` in process, in a terminal wide enough for ids."""
    runner = CliRunner()
    return runner.invoke(app, ["--server", server.url, *args], env={"COLUMNS": "250"})


def deploy(server: ServerProcess, tmp_path: Path, definition: dict[str, Any], *args: str) -> Result:
    file = tmp_path / f"{definition['id'].strip('/')}.json"
    file.write_text(json.dumps(definition))
    return conveyor(server, "apps", "deploy", "-f", str(file), *args)


def running_tasks(server: ServerProcess, app_id: str) -> list[dict[str, Any]]:
    with ConveyorClient(server.url) as client:
        return [t for t in client.list_tasks(app_id) if t["state"] == "TASK_RUNNING"]


def test_deployed_app_is_listed_and_shown_running(server: ServerProcess, tmp_path: Path) -> None:
    web = {
        "id": "web",
        "cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
        "instances": 1,
        "cpus": 0.1,
        "mem": 32,
    }
    result = deploy(server, tmp_path, web)
    assert result.exit_code == 0, result.output
    assert "finished" in result.stdout

    listed = conveyor(server, "apps", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "/web" in line)
    assert "1/1" in row

    shown = conveyor(server, "apps", "show", "web")
    assert shown.exit_code == 0, shown.output
    task = running_tasks(server, "/web")[0]
    assert task["id"] in shown.stdout
    assert "running" in shown.stdout
    assert f"127.0.0.1:{task['ports'][0]}" in shown.stdout

    as_json = json.loads(conveyor(server, "apps", "list", "--json").stdout)
    assert [a["id"] for a in as_json["apps"]] == ["/web"]


def test_invalid_definition_prints_the_servers_field_errors(
    server: ServerProcess, tmp_path: Path
) -> None:
    result = deploy(server, tmp_path, SLEEPER | {"id": "/bad", "cpus": -1, "instances": -2})
    assert result.exit_code == 1
    assert "Object is not valid" in result.stderr
    assert "  cpus: " in result.stderr
    assert "  instances: " in result.stderr
    assert "does not exist" in conveyor(server, "apps", "show", "bad").stderr


def test_deploying_a_file_that_is_not_json_says_so(tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_text("{not json")
    result = CliRunner().invoke(app, ["apps", "deploy", "-f", str(file)])
    assert result.exit_code == 1
    assert "not valid JSON" in result.stderr


def test_scale_follows_the_deployment_to_completion(server: ServerProcess, tmp_path: Path) -> None:
    assert deploy(server, tmp_path, SLEEPER).exit_code == 0

    result = conveyor(server, "apps", "scale", "sleeper", "3")

    assert result.exit_code == 0, result.output
    assert "finished" in result.stdout
    assert len(running_tasks(server, "/sleeper")) == 3
    with ConveyorClient(server.url) as client:
        assert client.list_deployments() == []


def test_restart_replaces_every_task_and_delete_removes_the_app(
    server: ServerProcess, tmp_path: Path
) -> None:
    assert deploy(server, tmp_path, SLEEPER | {"instances": 2}).exit_code == 0
    before = {t["id"] for t in running_tasks(server, "/sleeper")}

    restarted = conveyor(server, "apps", "restart", "/sleeper")
    assert restarted.exit_code == 0, restarted.output
    after = {t["id"] for t in running_tasks(server, "/sleeper")}
    assert len(after) == 2
    assert not before & after

    deleted = conveyor(server, "apps", "delete", "sleeper")
    assert deleted.exit_code == 0, deleted.output
    assert "/sleeper" not in conveyor(server, "apps", "list").stdout


def test_rollback_returns_to_the_previous_version(server: ServerProcess, tmp_path: Path) -> None:
    assert deploy(server, tmp_path, SLEEPER).exit_code == 0
    assert deploy(server, tmp_path, SLEEPER | {"cmd": "sleep 2000"}).exit_code == 0

    result = conveyor(server, "apps", "rollback", "sleeper")

    assert result.exit_code == 0, result.output
    with ConveyorClient(server.url) as client:
        assert client.get_app("sleeper")["cmd"] == "sleep 1000"


def test_logs_print_what_a_task_wrote(server: ServerProcess, tmp_path: Path) -> None:
    talker = SLEEPER | {"id": "/talker", "cmd": "echo hello-from-task; sleep 1000"}
    assert deploy(server, tmp_path, talker).exit_code == 0
    task_id = running_tasks(server, "/talker")[0]["id"]
    short_id = task_id.rpartition(".")[2][:8]

    result = wait_for(
        lambda: (
            (r := conveyor(server, "logs", "talker")).exit_code == 0
            and "hello-from-task" in r.stdout
            and r
        ),
        message="the task's output",
    )
    assert f"{short_id} hello-from-task" in result.stdout

    one_task = conveyor(server, "logs", "talker", "--task", task_id)
    assert one_task.stdout == "hello-from-task\n"
    assert conveyor(server, "logs", "talker", "--stderr").stdout == ""

    with ConveyorClient(server.url) as client:
        lines = client.follow_log(task_id)
        assert next(lines).text == "hello-from-task"
        lines.close()


def test_killed_task_is_replaced(server: ServerProcess, tmp_path: Path) -> None:
    assert deploy(server, tmp_path, SLEEPER).exit_code == 0
    [task] = running_tasks(server, "/sleeper")

    result = conveyor(server, "tasks", "kill", task["id"])

    assert result.exit_code == 0, result.output
    assert task["id"] in result.stdout
    replacement = wait_for(
        lambda: [t for t in running_tasks(server, "/sleeper") if t["id"] != task["id"]],
        message="a replacement task",
    )
    assert len(replacement) == 1
    listed = conveyor(server, "tasks", "list")
    assert replacement[0]["id"] in listed.stdout


def test_unknown_task_ids_are_reported(server: ServerProcess) -> None:
    result = conveyor(server, "tasks", "kill", "nothing.here")
    assert result.exit_code == 1
    assert "no running task nothing.here" in result.stderr


def test_deployments_are_listed_and_cancelled(server: ServerProcess, tmp_path: Path) -> None:
    started = deploy(server, tmp_path, NEVER_HEALTHY, "--no-wait")
    assert started.exit_code == 0, started.output
    with ConveyorClient(server.url) as client:
        [deployment] = client.list_deployments()
    deployment_id = deployment["id"]

    listed = conveyor(server, "deployments", "list")
    row = next(line for line in listed.stdout.splitlines() if deployment_id in line)
    assert "/stuck" in row

    cancelled = conveyor(server, "deployments", "cancel", deployment_id)
    assert cancelled.exit_code == 0, cancelled.output
    assert "rolling back with deployment" in cancelled.stdout
    wait_for(lambda: "no deployments running" in conveyor(server, "deployments", "list").stdout)


def test_a_follower_learns_that_its_deployment_was_cancelled(
    server: ServerProcess, tmp_path: Path
) -> None:
    assert deploy(server, tmp_path, NEVER_HEALTHY, "--no-wait").exit_code == 0
    client = ConveyorClient(server.url)
    [deployment] = client.list_deployments()
    outcomes: list[DeploymentOutcome] = []
    follower = threading.Thread(
        target=lambda: outcomes.append(client.wait_for_deployment(deployment["id"], timeout=30))
    )
    follower.start()

    forced = conveyor(server, "deployments", "cancel", deployment["id"], "--force")

    follower.join(timeout=40)
    client.close()
    assert forced.exit_code == 0, forced.output
    assert [o.result for o in outcomes] == [DeploymentResult.FAILED]


def test_following_gives_up_after_the_timeout(server: ServerProcess, tmp_path: Path) -> None:
    result = deploy(server, tmp_path, NEVER_HEALTHY, "--timeout", "1")
    assert result.exit_code == 3
    assert "still running after 1s" in result.stderr


def test_show_tells_the_last_task_failure(server: ServerProcess, tmp_path: Path) -> None:
    crasher = SLEEPER | {"id": "/crasher", "cmd": "exit 3"}
    assert deploy(server, tmp_path, crasher, "--no-wait").exit_code == 0

    shown = wait_for(
        lambda: "last failure" in (r := conveyor(server, "apps", "show", "crasher")).stdout and r,
        message="a recorded task failure",
    )
    failure = shown.stdout.split("last failure\n", 1)[1]
    assert "failed on 127.0.0.1: " in failure
