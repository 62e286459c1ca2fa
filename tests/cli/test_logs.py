"""`conveyor logs`: stdout and stderr both, and the output of an app's ended tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.cli.test_commands import SLEEPER, conveyor, deploy, running_tasks
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


def test_logs_show_stdout_and_stderr_with_stderr_marked(
    server: ServerProcess, tmp_path: Path
) -> None:
    talker = SLEEPER | {"id": "/both", "cmd": "echo to-out; echo to-err >&2; sleep 1000"}
    assert deploy(server, tmp_path, talker).exit_code == 0
    task_id = running_tasks(server, "/both")[0]["id"]

    result = wait_for(
        lambda: (
            (r := conveyor(server, "logs", "both", "--task", task_id)).exit_code == 0
            and "to-err" in r.stdout
            and r
        ),
        message="both lines",
    )
    assert result.stdout.splitlines() == ["to-out", "stderr to-err"]
    assert conveyor(server, "logs", "both", "--task", task_id, "--stderr").stdout == "to-err\n"
    assert conveyor(server, "logs", "both", "--task", task_id, "--stdout").stdout == "to-out\n"


def test_logs_of_an_app_without_running_tasks_show_its_last_ended_task(
    server: ServerProcess, tmp_path: Path
) -> None:
    crasher = SLEEPER | {
        "id": "/crasher",
        "cmd": "echo last-words >&2; exit 3",
        "backoffSeconds": 600,
    }
    assert deploy(server, tmp_path, crasher, "--no-wait").exit_code == 0
    wait_for(
        lambda: "lastTaskFailure" in httpx.get(f"{server.url}/v2/apps/crasher").json()["app"],
        message="the task to fail",
    )

    result = conveyor(server, "logs", "crasher")

    assert result.exit_code == 0, result.output
    assert "stderr last-words" in result.stdout
    assert "/crasher has no running task; showing task" in result.stderr
    assert "failed" in result.stderr


def test_followed_logs_show_what_an_http_server_writes_to_stderr(
    server: ServerProcess, tmp_path: Path
) -> None:
    web = SLEEPER | {"id": "/web", "cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1"}
    assert deploy(server, tmp_path, web).exit_code == 0
    task = running_tasks(server, "/web")[0]
    command = [sys.executable, "-c", "from conveyor.entry import main; main()"]
    follower = subprocess.Popen(
        [*command, "--server", server.url, "logs", "web", "--follow"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(follower.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(
            lambda: (
                httpx.get(f"http://127.0.0.1:{task['ports'][0]}/followed-path").status_code
                and any("followed-path" in line for line in seen)
            ),
            message="the request's log line",
        )
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        reader.join(timeout=10)
        follower.stdout.close()  # type: ignore[union-attr]
    requests = [line for line in seen if "followed-path" in line]
    assert requests
    assert all("stderr" in line for line in requests)
