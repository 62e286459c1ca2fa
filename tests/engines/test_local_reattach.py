"""Tasks survive their engine: a new engine on the same data dir adopts them or learns their end."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from conveyor.domain.instances import ResourceLimits
from conveyor.engines.cgroups import CgroupHost
from conveyor.engines.processes import ProcessRef, read_stat
from conveyor.engines.protocol import ExitReason, LaunchSpec, TaskHandle
from tests.engines.scenarios import eventually, free_port_range, next_exits, open_engine, run

NO_LIMITS = ResourceLimits(method="none")
HOST = CgroupHost.detect().bases()


def _supervisor(data_dir: Path, task_id: str) -> ProcessRef:
    state = json.loads((data_dir / "tasks" / task_id / "state.json").read_text())
    return ProcessRef(**state["supervisor"])


def _is_gone(process: ProcessRef) -> bool:
    """Ended and reaped: not even a zombie is left."""
    return not process.is_same(read_stat(process.pid))


def _running(handle: TaskHandle) -> bool:
    return ProcessRef(handle.pid, handle.pid_start_time).is_running()


def test_a_task_survives_its_engine_and_a_new_engine_can_kill_it(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as first:
            handle = await first.launch(LaunchSpec("survivor", argv=("sleep", "300"), port_count=1))
        assert _running(handle)
        async with open_engine(data_dir) as second:
            assert await second.reattach([handle]) == []
            assert _running(handle)
            await second.kill("survivor", grace_seconds=5)
            [ended] = await next_exits(second)
            assert (ended.task_id, ended.reason, ended.exit_code) == (
                "survivor",
                ExitReason.KILLED,
                -15,
            )
            assert not _running(handle)
            await eventually(lambda: _is_gone(_supervisor(data_dir, "survivor")))

    run(scenario)


def test_an_adopted_task_keeps_its_ports(data_dir: Path) -> None:
    ports = free_port_range(10)

    async def scenario() -> None:
        async with open_engine(data_dir, port_range=ports) as first:
            handle = await first.launch(LaunchSpec("holder", argv=("sleep", "300"), port_count=1))
        async with open_engine(data_dir, port_range=ports) as second:
            await second.reattach([handle])
            other = await second.launch(LaunchSpec("other", argv=("sleep", "300"), port_count=1))
            assert other.ports != handle.ports
            for task_id in ("holder", "other"):
                await second.kill(task_id, grace_seconds=5)
            await next_exits(second, 2)

    run(scenario)


def test_a_task_that_ended_unwatched_is_reported_with_its_recorded_exit(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as first:
            handle = await first.launch(LaunchSpec("brief", shell="sleep 0.3; exit 7"))
        supervisor = _supervisor(data_dir, "brief")
        await eventually(lambda: not supervisor.is_running())
        assert (data_dir / "tasks" / "brief" / "exit").exists()
        async with open_engine(data_dir) as second:
            [ended] = await second.reattach([handle])
            assert (ended.task_id, ended.reason, ended.exit_code) == ("brief", ExitReason.EXITED, 7)
            assert ended.ended_at > handle.started_at
            assert _is_gone(supervisor)  # the new engine reaped it: it was our child

    run(scenario)


def test_a_reused_pid_is_reported_vanished(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as first:
            handle = await first.launch(LaunchSpec("reused", argv=("sleep", "300")))
        impostor = dataclasses.replace(handle, pid_start_time=handle.pid_start_time - 3600)
        async with open_engine(data_dir) as second:
            [ended] = await second.reattach([impostor])
            assert (ended.task_id, ended.reason, ended.exit_code) == (
                "reused",
                ExitReason.VANISHED,
                None,
            )

    run(scenario)


def test_a_task_gone_without_a_trace_is_reported_vanished(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            handle = await engine.launch(LaunchSpec("real", shell="true"))
            await next_exits(engine)
            ghost = dataclasses.replace(handle, task_id="ghost")
            [ended] = await engine.reattach([ghost])
            assert (ended.task_id, ended.reason) == ("ghost", ExitReason.VANISHED)

    run(scenario)


SERVER = """
import asyncio, json, os, sys
from pathlib import Path
from conveyor.engines.local import LocalEngine
from conveyor.engines.protocol import LaunchSpec

async def main():
    engine = LocalEngine(Path(sys.argv[1]))
    handle = await engine.launch(LaunchSpec("orphaned", argv=("sleep", "300")))
    await asyncio.sleep(0.2)  # the standbys are replaced meanwhile
    print(json.dumps({"pid": handle.pid, "start": handle.pid_start_time}), flush=True)
    os._exit(0)  # a server that dies without closing anything

asyncio.run(main())
"""


def test_a_task_survives_a_server_that_dies(data_dir: Path) -> None:
    server = subprocess.run(
        [sys.executable, "-c", SERVER, str(data_dir)], capture_output=True, check=True, timeout=30
    )
    launched = json.loads(server.stdout)
    task = ProcessRef(launched["pid"], launched["start"])
    assert task.is_running()

    async def scenario() -> None:
        standbys = list((data_dir / "tasks").glob(".standby-*"))
        assert standbys  # left behind by the dead server: the next engine removes them
        sides = [ProcessRef.of(int((path / "pid").read_text().split()[0])) for path in standbys]
        await eventually(lambda: not any(side and side.is_running() for side in sides))
        cgroups = [base / path.name.removeprefix(".standby-") for path in standbys for base in HOST]
        async with open_engine(data_dir) as engine:
            assert not any(path.exists() for path in standbys + cgroups)
            handle = TaskHandle(
                "orphaned", task.pid, task.start_time, "here", (), datetime.now(UTC), NO_LIMITS
            )
            assert await engine.reattach([handle]) == []
            await engine.kill("orphaned", grace_seconds=5)
            [ended] = await next_exits(engine)
            assert (ended.reason, ended.exit_code) == (ExitReason.KILLED, -15)

    run(scenario)
