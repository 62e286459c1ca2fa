"""Fixtures for the engine tests: a data dir whose tasks are all ended when the test ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.engines.cgroups import TaskCgroups
from conveyor.engines.processes import ProcessRef


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    end_leftover_tasks(path)


def end_leftover_tasks(data_dir: Path) -> None:
    """Kill what the test's tasks left running, by their recorded pids and cgroups only, then
    reap their supervisors (children of this process) and remove their cgroups."""
    for state_file in data_dir.glob("tasks/*/state.json"):
        state = json.loads(state_file.read_text())
        task = ProcessRef(**state["task"])
        supervisor = ProcessRef(**state["supervisor"])
        cgroups = TaskCgroups.from_json(state["cgroups"])
        if task.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(task.pid, signal.SIGKILL)
        cgroups.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 5
        while supervisor.is_running() and time.monotonic() < deadline:
            time.sleep(0.01)
        supervisor.reap()
        asyncio.run(cgroups.remove())
