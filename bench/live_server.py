"""A Conveyor server for the benchmarks that leaves nothing behind.

`live_server()` starts `conveyor serve` in a subprocess on a free loopback port, its data in a
temporary directory (tests/support/servers.py's `ServerProcess`), and yields an HTTP client for it.
On the way out it deletes every app, waits for their tasks to end, stops the server and removes the
directory. Tasks outlive their server by design, so should one be left (a delete that timed out, a
server that died) it is killed by the pids its sandbox recorded, once they are checked to still
name the processes the server started; and cgroups the server left (its tasks' or its standby
supervisors') are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

from conveyor.engines.cgroups import CgroupHost, TaskCgroups
from conveyor.engines.supervisors import STANDBY_PREFIX

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.support
from tests.support.servers import ServerProcess

DELETE_TIMEOUT = 60.0


@contextlib.contextmanager
def live_server(*, port_range: tuple[int, int] | None = None) -> Iterator[httpx.Client]:
    with live_server_process(port_range=port_range) as (_, client):
        yield client


@contextlib.contextmanager
def live_server_process(
    *, port_range: tuple[int, int] | None = None
) -> Iterator[tuple[psutil.Process, httpx.Client]]:
    """`live_server`, also giving the server's process (to read its CPU time)."""
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data", port_range=port_range)
        server.start()
        assert server.process is not None
        client = httpx.Client(base_url=server.url, timeout=30)
        try:
            yield psutil.Process(server.process.pid), client
        finally:
            try:
                delete_all_apps(client)
            finally:
                client.close()
                server.stop()
                remove_leftovers(server.data_dir / "tasks")


def delete_app(client: httpx.Client, app_id: str) -> None:
    """Delete the app (cancelling its deployment) and wait until its tasks are gone."""
    client.delete(f"/v2/apps{app_id}", params={"force": "true"}).raise_for_status()
    wait_until_no_tasks(client, app_id)


def delete_all_apps(client: httpx.Client) -> None:
    for app in client.get("/v2/apps").json()["apps"]:
        client.delete(f"/v2/apps{app['id']}", params={"force": "true"}).raise_for_status()
    wait_until_no_tasks(client, None)


def wait_until_no_tasks(client: httpx.Client, app_id: str | None) -> None:
    """Until the server lists no task (of `app_id`, when given) and the app is gone."""
    deadline = time.monotonic() + DELETE_TIMEOUT
    while time.monotonic() < deadline:
        tasks = client.get("/v2/tasks").json()["tasks"]
        if app_id is None and not tasks:
            return
        if app_id is not None and is_gone(client, app_id, tasks):
            return
        time.sleep(0.05)
    raise TimeoutError(f"tasks still running {DELETE_TIMEOUT}s after deleting {app_id or 'all'}")


def is_gone(client: httpx.Client, app_id: str, tasks: list[dict[str, object]]) -> bool:
    return all(task["appId"] != app_id for task in tasks) and (
        client.get(f"/v2/apps{app_id}").status_code == 404
    )


def remove_leftovers(tasks_dir: Path) -> None:
    """Kill what a sandbox under `tasks_dir` recorded and is still alive, and remove the cgroups
    of its tasks and standbys. Normally the server did both; one stopped by SIGTERM may leave its
    standbys' cgroups."""
    for pid, started in sorted(set(recorded_processes(tasks_dir))):
        if is_same_process(pid, started):
            print(f"  (cleanup: killing leftover process {pid})", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
    for cgroups in recorded_cgroups(tasks_dir):
        if any(directory.is_dir() for directory in cgroups.dirs):
            print(f"  (cleanup: removing leftover cgroups {cgroups.dirs[0].name})", file=sys.stderr)
            asyncio.run(cgroups.remove())


def recorded_states(tasks_dir: Path) -> Iterator[dict[str, Any]]:
    for state_file in tasks_dir.glob("*/state.json"):
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(state_file.read_text())
            if isinstance(state, dict):
                yield state


def recorded_processes(tasks_dir: Path) -> Iterator[tuple[int, float]]:
    """(pid, start time) of every task and supervisor a sandbox or standby names."""
    for pid_file in tasks_dir.glob("*/pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            words = pid_file.read_text().split()
            yield int(words[0]), float(words[1])
    for state in recorded_states(tasks_dir):
        for role in ("task", "supervisor"):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                yield int(state[role]["pid"]), float(state[role]["start_time"])


def recorded_cgroups(tasks_dir: Path) -> Iterator[TaskCgroups]:
    """The cgroups of every task a sandbox names, and of every standby (named by its token)."""
    for state in recorded_states(tasks_dir):
        yield TaskCgroups.from_json(state.get("cgroups") or {})
    host = CgroupHost.detect()
    for standby in tasks_dir.glob(f"{STANDBY_PREFIX}*"):
        token = standby.name.removeprefix(STANDBY_PREFIX)
        yield TaskCgroups(
            unified=host.unified / token if host.unified else None,
            v1={controller: base / token for controller, base in host.v1.items()},
        )


def is_same_process(pid: int, started: float) -> bool:
    """True when `pid` is alive and started when recorded (not a reused pid)."""
    try:
        process = psutil.Process(pid)
        return (
            process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - started) < 1.0
        )
    except psutil.Error:
        return False
