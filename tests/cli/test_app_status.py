"""`conveyor apps show` explains an app that does not become healthy, and the definition that
opens docs/apps.md becomes healthy on one machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import Result

from conveyor.client import ConveyorClient
from tests.cli.test_commands import conveyor
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow

APPS_MD = Path(__file__).resolve().parents[2] / "docs" / "apps.md"


def deploy(server: ServerProcess, tmp_path: Path, definition: object, *args: str) -> Result:
    file = tmp_path / "web.json"
    file.write_text(json.dumps(definition))
    return conveyor(server, "apps", "deploy", "-f", str(file), *args)


def first_json_block(markdown: str) -> dict[str, object]:
    block = re.search(r"```json\n(.*?)```", markdown, re.DOTALL)
    assert block is not None
    document: dict[str, object] = json.loads(block.group(1))
    return document


def test_the_definition_that_opens_the_apps_guide_becomes_healthy(
    server: ServerProcess, tmp_path: Path
) -> None:
    definition = first_json_block(APPS_MD.read_text())

    result = deploy(server, tmp_path, definition)

    assert result.exit_code == 0, result.output
    assert "finished" in result.stdout
    with ConveyorClient(server.url) as client:
        app = client.get_app(str(definition["id"]))
    assert app["tasksHealthy"] == app["instances"] == 3


def test_show_explains_unplaceable_instances_and_failing_health_checks(
    server: ServerProcess, tmp_path: Path
) -> None:
    broken = {
        "id": "/shop/web",
        "cmd": "exec python3 -m http.server $PORT0 --bind $HOST",
        "instances": 3,
        "cpus": 0.1,
        "mem": 64,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/health",
                "portIndex": 0,
                "gracePeriodSeconds": 0,
                "intervalSeconds": 1,
                "maxConsecutiveFailures": 2,
            }
        ],
        "constraints": [["hostname", "UNIQUE"]],
    }
    assert deploy(server, tmp_path, broken, "--no-wait").exit_code == 0

    unplaced = (
        "2 instances cannot be placed: hostname UNIQUE: one instance per host; "
        "only 1 host (127.0.0.1), 3 instances wanted"
    )

    def explained() -> str | None:
        # while the unhealthy instance is replaced, the queue tells of its backoff instead
        shown = conveyor(server, "apps", "show", "shop/web").stdout
        return shown if "HTTP 404 from http://127.0.0.1:" in shown and unplaced in shown else None

    shown = wait_for(explained, timeout=60, message="both the failure and the queue explained")
    assert "(0 failures)" not in shown
    reasons = [line for line in shown.splitlines() if "HTTP 404 from" in line]
    assert all("/health" in line for line in reasons)
    assert any(
        re.search(r"unhealthy, \d failures? in a row", line) or "killed: unhealthy:" in line
        for line in reasons
    )


def test_show_tells_why_a_new_instance_is_not_healthy_yet_inside_its_grace_period(
    server: ServerProcess, tmp_path: Path
) -> None:
    starting = {
        "id": "/shop/slow",
        "cmd": "exec python3 -m http.server $PORT0 --bind $HOST",
        "instances": 1,
        "cpus": 0.1,
        "healthChecks": [
            {"protocol": "HTTP", "path": "/health", "gracePeriodSeconds": 300, "intervalSeconds": 1}
        ],
    }
    assert deploy(server, tmp_path, starting, "--no-wait").exit_code == 0

    def explained() -> str | None:
        shown = conveyor(server, "apps", "show", "shop/slow").stdout
        return shown if "HTTP 404 from http://127.0.0.1:" in shown else None

    shown = wait_for(explained, timeout=60, message="the ignored failure's cause shown")
    [line] = [line for line in shown.splitlines() if "HTTP 404 from" in line]
    assert "not yet healthy; failures count once the grace period ends" in line
    assert "0 failures" not in line
    with ConveyorClient(server.url) as client:
        [task] = client.get_app("/shop/slow")["tasks"]
    [result] = task["healthCheckResults"]
    assert result["consecutiveFailures"] == 0  # it does not count
    assert result["alive"] is False
