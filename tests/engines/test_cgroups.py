"""What `CgroupHost` makes of a host's cgroup mounts, read from mountinfo over real directories."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from conveyor.engines.cgroups import (
    MIB,
    CgroupHost,
    TaskCgroups,
    apply_limits,
    make_cgroups,
    remove_stale_cgroups,
)


def _mountinfo(*mounts: tuple[Path, str, str]) -> str:
    """mountinfo lines for (mount point, fs type, super options)."""
    return "".join(
        f"{30 + index} 23 0:{40 + index} / {point} rw,relatime - {fstype} {fstype} {options}\n"
        for index, (point, fstype, options) in enumerate(mounts)
    )


def test_a_pure_v2_host_offers_the_controllers_enabled_for_our_cgroup(tmp_path: Path) -> None:
    own = tmp_path / "cgroup" / "system.slice" / "conveyor.service"
    own.mkdir(parents=True)
    (own / "cgroup.subtree_control").write_text("cpu io memory pids\n")
    host = CgroupHost.from_proc(
        _mountinfo((tmp_path / "cgroup", "cgroup2", "rw,nsdelegate")),
        "0::/system.slice/conveyor.service\n",
    )
    assert host == CgroupHost(
        unified=own / "conveyor", unified_controllers=frozenset({"cpu", "memory"})
    )


def test_a_hybrid_host_offers_v1_controllers_and_a_v2_group_to_hold_trees(tmp_path: Path) -> None:
    for name in ("memory/job", "cpu,cpuacct", "pids", "unified"):
        (tmp_path / name).mkdir(parents=True)
    mounts = _mountinfo(
        (tmp_path / "memory", "cgroup", "rw,memory"),
        (tmp_path / "cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
        (tmp_path / "pids", "cgroup", "rw,pids"),
        (tmp_path / "unified", "cgroup2", "rw"),
    )
    own = "5:memory:/job\n3:cpu,cpuacct:/\n2:pids:/\n0::/\n"
    host = CgroupHost.from_proc(mounts, own)
    assert host.unified == tmp_path / "unified" / "conveyor"
    assert host.unified_controllers == frozenset()
    assert dict(host.v1) == {
        "memory": tmp_path / "memory" / "job" / "conveyor",
        "cpu": tmp_path / "cpu,cpuacct" / "conveyor",
    }


def test_a_host_without_cgroup_mounts_offers_nothing() -> None:
    mounts = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
    assert CgroupHost.from_proc(mounts, "0::/\n") == CgroupHost()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_hierarchy_is_not_offered(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir(mode=0o555)
    mounts = _mountinfo((tmp_path / "memory", "cgroup", "rw,memory"))
    assert CgroupHost.from_proc(mounts, "4:memory:/\n") == CgroupHost()


def test_no_cgroups_means_an_rlimit_for_memory_and_nothing_for_cpu() -> None:
    cgroups = apply_limits(make_cgroups(CgroupHost(), "t"), mem_mib=64, cpus=2, cpu_quota=True)
    assert cgroups.dirs == ()
    assert cgroups.limits.method == "rlimit"
    assert cgroups.limits.mem_bytes == 64 * MIB
    assert cgroups.limits.cpu_shares is None
    assert cgroups.virtual_memory_kib == 64 * 1024
    assert "cpu: not limited (no cpu cgroup)" in cgroups.limits.notes


def test_a_task_without_limits_has_method_none() -> None:
    cgroups = apply_limits(TaskCgroups(), mem_mib=0, cpus=0, cpu_quota=False)
    assert cgroups.limits.method == "none"
    assert cgroups.virtual_memory_kib is None


def test_cgroups_survive_a_round_trip_through_the_state_file(tmp_path: Path) -> None:
    cgroups = TaskCgroups(unified=tmp_path / "u", v1={"memory": tmp_path / "m"})
    restored = TaskCgroups.from_json(cgroups.to_json())
    assert (restored.unified, dict(restored.v1)) == (cgroups.unified, dict(cgroups.v1))
    assert TaskCgroups.from_json({}) == TaskCgroups()
    asyncio.run(restored.remove())  # nothing there: nothing to do


def test_empty_leftover_cgroups_are_removed_but_new_ones_are_not(tmp_path: Path) -> None:
    base = tmp_path / "unified" / "conveyor"
    old, new = base / "old", base / "new"
    old.mkdir(parents=True)
    new.mkdir()
    os.utime(old, (0, 0))
    remove_stale_cgroups(CgroupHost(unified=base))
    assert not old.exists()
    assert new.exists()
