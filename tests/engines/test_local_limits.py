"""Resource limits on the local engine: cgroups where the host allows them, rlimits otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conveyor.engines.cgroups import MIB, CgroupHost
from conveyor.engines.protocol import ExitReason, LaunchSpec, TaskHandle
from tests.engines.scenarios import eventually, next_exits, open_engine, run

ALLOCATE_256_MIB = (sys.executable, "-c", "data = b'x' * (256 << 20)")
HOST = CgroupHost.detect()


def _cgroup_dirs(handle: TaskHandle) -> list[Path]:
    return [
        Path(note.removeprefix("cgroup "))
        for note in handle.limits.notes
        if note.startswith("cgroup ")
    ]


def _address_space_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return line.split()[3]
    raise AssertionError("no address space line")


def _applied_memory_limit(handle: TaskHandle) -> int:
    if handle.limits.method == "rlimit":
        return int(_address_space_limit(handle.pid))
    for directory in _cgroup_dirs(handle):
        for name in ("memory.max", "memory.limit_in_bytes"):
            if (directory / name).exists():
                return int((directory / name).read_text())
    raise AssertionError(f"no memory limit file in {_cgroup_dirs(handle)}")


def test_memory_limit_is_applied_and_recorded(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            spec = LaunchSpec("limited", argv=("sleep", "300"), mem_mib=64)
            handle = await engine.launch(spec)
            assert handle.limits.method in ("cgroup-v2", "cgroup-v1", "rlimit")
            assert handle.limits.mem_bytes == 64 * MIB
            await eventually(
                lambda: Path(f"/proc/{handle.pid}/cmdline").read_bytes() == b"sleep\x00300\x00"
            )
            assert _applied_memory_limit(handle) == 64 * MIB
            await engine.kill("limited", grace_seconds=5)
            await next_exits(engine)

    run(scenario)


def test_without_cgroups_memory_is_limited_by_rlimit(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir, cgroups=CgroupHost()) as engine:
            handle = await engine.launch(LaunchSpec("rlimited", argv=ALLOCATE_256_MIB, mem_mib=128))
            assert handle.limits.method == "rlimit"
            assert handle.limits.mem_bytes == 128 * MIB
            assert _cgroup_dirs(handle) == []
            [ended] = await next_exits(engine)
            assert ended.exit_code == 1  # MemoryError

    run(scenario)


@pytest.mark.skipif(
    "memory" not in HOST.v1 and "memory" not in HOST.unified_controllers,
    reason="no writable memory cgroup on this host",
)
def test_a_task_over_its_memory_limit_is_oom_killed(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            handle = await engine.launch(LaunchSpec("hungry", argv=ALLOCATE_256_MIB, mem_mib=48))
            assert handle.limits.method.startswith("cgroup")
            [ended] = await next_exits(engine)
            assert (ended.reason, ended.exit_code) == (ExitReason.EXITED, -9)

    run(scenario)


@pytest.mark.skipif(
    "cpu" not in HOST.v1 and "cpu" not in HOST.unified_controllers,
    reason="no writable cpu cgroup on this host",
)
def test_cpus_become_cpu_shares(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir, cpu_quota=True) as engine:
            handle = await engine.launch(LaunchSpec("weighted", argv=("sleep", "300"), cpus=0.5))
            assert handle.limits.cpu_shares == 512
            assert handle.limits.cpu_quota_us == 50_000
            assert any(note in ("cpu.shares=512", "cpu.weight=50") for note in handle.limits.notes)
            await engine.kill("weighted", grace_seconds=5)
            await next_exits(engine)

    run(scenario)


def test_a_task_cgroups_are_removed_when_it_ends(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            handle = await engine.launch(LaunchSpec("tidy", shell="true", mem_mib=64, cpus=0.25))
            await next_exits(engine)
            for directory in _cgroup_dirs(handle):
                assert not directory.exists()

    run(scenario)
