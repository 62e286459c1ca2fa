"""`conveyor up` (what ./scripts/up runs): the example app is deployed, becomes healthy, answers
HTTP on its host port, and `conveyor apps list` shows it healthy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_up_deploys_the_example_app_healthy_and_reachable(
    server_factory: type[ServerProcess],
) -> None:
    server = server_factory(subcommand="up").start()

    def healthy() -> dict[str, object] | None:
        app = httpx.get(f"{server.url}/v2/apps/examples/hello").json()["app"]
        return app if app["tasksHealthy"] == app["instances"] == 2 else None

    app = wait_for(healthy, timeout=60, message="the example app healthy")
    for task in app["tasks"]:
        page = httpx.get(f"http://{task['host']}:{task['ports'][0]}/", timeout=5)
        assert page.status_code == 200

    listing = subprocess.run(
        [
            sys.executable,
            "-c",
            "from conveyor.entry import main; main()",
            "--server",
            server.url,
            "apps",
            "list",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert '"/examples/hello"' in listing.stdout
    assert '"tasksHealthy": 2' in listing.stdout

    # a restart on the same data dir does not deploy the example again
    server.stop()
    again = server_factory(server.data_dir, subcommand="up", port_range=server.port_range).start()
    versions = httpx.get(f"{again.url}/v2/apps/examples/hello/versions").json()["versions"]
    assert len(versions) == 1


def test_up_on_a_taken_port_fails_and_names_the_options(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "CONVEYOR_LISTEN": f"127.0.0.1:{port}",
            "CONVEYOR_DATA_DIR": str(tmp_path / "data"),
        }
        result = subprocess.run(
            [str(ROOT / "scripts" / "up")],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode != 0
    assert "serving on" not in result.stdout
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "--listen" in result.stderr
    assert "CONVEYOR_LISTEN" in result.stderr
    assert "Traceback" not in result.stderr
