"""Processes by identity, and watching them end with and without pidfds."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from conveyor.engines.processes import ProcessRef, ProcessWatch, read_stat


def _spawn(*argv: str) -> ProcessRef:
    path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    assert path is not None
    process = ProcessRef.of(os.posix_spawn(path, list(argv), {}))
    assert process is not None
    return process


def test_a_process_is_known_by_its_pid_and_start_time() -> None:
    me = ProcessRef.of(os.getpid())
    assert me is not None and me.is_running()
    assert not ProcessRef(os.getpid(), me.start_time - 3600).is_running()


def test_the_stat_of_a_process_with_an_odd_name_is_read(tmp_path: Path) -> None:
    odd = tmp_path / "a) b (c"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", odd)
    process = _spawn(str(odd), "30")
    try:
        stat = read_stat(process.pid)
        assert stat is not None and stat.ppid == os.getpid()
        assert stat.start_time == process.start_time
    finally:
        os.kill(process.pid, signal.SIGKILL)
        os.waitpid(process.pid, 0)


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_a_watched_child_is_reported_once_and_reaped(pidfd: bool) -> None:
    async def scenario() -> list[str]:
        process = _spawn("sleep", "0.2")
        ended: list[str] = []
        watch = ProcessWatch(process, lambda: ended.append("ended"), pidfd=pidfd)
        for _ in range(500):
            if ended:
                break
            await asyncio.sleep(0.01)
        watch.cancel()
        assert read_stat(process.pid) is None or not process.is_same(read_stat(process.pid))
        return ended

    assert asyncio.run(scenario()) == ["ended"]


def test_a_cancelled_watch_reports_nothing() -> None:
    async def scenario() -> list[str]:
        process = _spawn("sleep", "0.05")
        ended: list[str] = []
        ProcessWatch(process, lambda: ended.append("ended")).cancel()
        await asyncio.sleep(0.3)
        os.waitpid(process.pid, 0)
        return ended

    assert asyncio.run(scenario()) == []
