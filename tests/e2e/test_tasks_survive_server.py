"""Tasks survive the server: SIGKILL it while instances run, start it again, and the very same
processes are still running and reported — none was restarted."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


def running_task_ids(url: str, app_id: str) -> set[str]:
    tasks = httpx.get(f"{url}/v2/apps{app_id}/tasks", timeout=5).json()["tasks"]
    return {t["id"] for t in tasks if t["state"] == "TASK_RUNNING"}


def test_server_killed_and_restarted_keeps_the_same_processes(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    pid_log = tmp_path / "pids"
    app = {
        "id": "/survivor",
        "cmd": f"echo $$ >> {pid_log}; exec sleep 1000",
        "instances": 3,
        "cpus": 0.1,
        "mem": 32,
    }
    first = server_factory(tmp_path / "data").start()
    assert httpx.post(f"{first.url}/v2/apps", json=app, timeout=5).status_code == 201
    wait_for(lambda: len(running_task_ids(first.url, "/survivor")) == 3, message="3 running")
    wait_for(lambda: not httpx.get(f"{first.url}/v2/deployments").json(), message="deployed")
    task_ids = running_task_ids(first.url, "/survivor")
    pids = [int(line) for line in pid_log.read_text().split()]
    assert len(pids) == 3

    first.kill()
    assert all(psutil.pid_exists(pid) for pid in pids), "tasks outlive a SIGKILLed server"

    second = server_factory(tmp_path / "data", port=first.port, port_range=first.port_range).start()
    assert running_task_ids(second.url, "/survivor") == task_ids
    time.sleep(3)  # give the restarted server time to (wrongly) relaunch anything
    assert running_task_ids(second.url, "/survivor") == task_ids
    assert [int(line) for line in pid_log.read_text().split()] == pids, "nothing was restarted"
    assert all(psutil.Process(pid).is_running() for pid in pids)

    # and the adopted tasks are still under control: deleting the app ends them
    assert httpx.delete(f"{second.url}/v2/apps/survivor", timeout=5).status_code == 200
    wait_for(lambda: not any(psutil.pid_exists(p) for p in pids), timeout=30, message="killed")
