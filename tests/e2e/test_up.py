"""`conveyor up` (what ./scripts/up runs): the example app is deployed, becomes healthy, answers
HTTP on its host port, and `conveyor apps list` shows it healthy."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


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
