"""Control groups for tasks: their memory and cpu limits, and every process of their tree.

Hosts differ, and a launch never fails for it. In order of preference:

- cgroup v2 with the memory/cpu controllers enabled for us: `memory.max`, `cpu.weight`, `cpu.max`;
- cgroup v1 hierarchies we can write: `memory.limit_in_bytes`, `cpu.shares`, `cpu.cfs_quota_us`;
- neither: RLIMIT_AS (`ulimit -v`) for memory, nothing for cpu.

A cgroup2 hierarchy is used to hold a task's tree even without controllers (a hybrid host mounts
one at /sys/fs/cgroup/unified): its `cgroup.kill` ends every process in it at once.

Task cgroups are made under the server's own cgroup of each hierarchy, in `conveyor/<name>`, so
they stay inside whatever the server itself was given; they are removed when the task ends. They
are made, and joined, before the task is known (by a standby supervisor, see `supervisors.py`):
moving a process between cgroups waits for an RCU grace period when the system has been quiet,
milliseconds that a launch should not spend. A launch only writes the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from conveyor.domain.instances import ResourceLimits

MIB = 1 << 20
_BASE_NAME = "conveyor"
_V1_CONTROLLERS = ("memory", "cpu")
_CFS_PERIOD_US = 100_000
_REMOVE_ATTEMPTS = 100
_REMOVE_PAUSE = 0.02
_NO_LIMITS = ResourceLimits(method="none")
STALE_AFTER = 60.0
"""Seconds after which an empty task cgroup that nobody removed is taken as left over."""


@dataclass(frozen=True)
class CgroupHost:
    """Where this host lets the engine make task cgroups; empty where it does not."""

    unified: Path | None = None
    """The cgroup2 directory task cgroups are made in (`.../conveyor`)."""
    unified_controllers: frozenset[str] = frozenset()
    """Controllers of `memory`, `cpu` that task cgroups in `unified` can have."""
    v1: Mapping[str, Path] = field(default_factory=dict)
    """For each cgroup v1 controller we can write, the directory task cgroups are made in."""

    def bases(self) -> list[Path]:
        return ([self.unified] if self.unified else []) + list(self.v1.values())

    @classmethod
    def detect(cls) -> CgroupHost:
        try:
            mounts = Path("/proc/self/mountinfo").read_text()
            own = Path("/proc/self/cgroup").read_text()
        except OSError:
            return cls()
        return cls.from_proc(mounts, own)

    @classmethod
    def from_proc(cls, mountinfo: str, own_cgroups: str) -> CgroupHost:
        """Read the cgroup mounts (`/proc/self/mountinfo`) and our own cgroups
        (`/proc/self/cgroup`); keep the writable ones."""
        own = _parse_own_cgroups(own_cgroups)
        unified: Path | None = None
        v1: dict[str, Path] = {}
        for mountpoint, root, fstype, options in _cgroup_mounts(mountinfo):
            if fstype == "cgroup2" and "" in own:
                unified = unified or _writable_base(mountpoint, root, own[""])
            if fstype != "cgroup":
                continue
            for controller in set(options.split(",")) & set(_V1_CONTROLLERS):
                base = _writable_base(mountpoint, root, own.get(controller, "/"))
                if base is not None:
                    v1[controller] = base
        controllers = _read_words(unified.parent / "cgroup.subtree_control") if unified else set()
        return cls(unified, frozenset(controllers & {"memory", "cpu"}), v1)


def _parse_own_cgroups(text: str) -> dict[str, str]:
    """Controller → our cgroup path in its hierarchy; "" is the cgroup2 hierarchy."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _cgroup_mounts(mountinfo: str) -> list[tuple[Path, str, str, str]]:
    """(mount point, root in the hierarchy, fs type, super options) of each cgroup mount."""
    mounts = []
    for line in mountinfo.splitlines():
        head, _, tail = line.partition(" - ")
        fields, tail_fields = head.split(), tail.split()
        if len(fields) >= 5 and len(tail_fields) >= 3 and tail_fields[0] in ("cgroup", "cgroup2"):
            mounts.append((Path(fields[4]), fields[3], tail_fields[0], tail_fields[2]))
    return mounts


def _writable_base(mountpoint: Path, root: str, own_path: str) -> Path | None:
    relative = own_path[len(root) :] if root != "/" and own_path.startswith(root) else own_path
    parent = mountpoint / relative.lstrip("/")
    if not parent.is_dir():
        parent = mountpoint
    if not os.access(parent, os.W_OK):
        return None
    return parent / _BASE_NAME


def _read_words(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def _write(path: Path, value: object) -> bool:
    """Write one value to a cgroup file (plain system calls: a launch writes several)."""
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, f"{value}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def _make_dir(base: Path, name: str) -> Path | None:
    """`base/name`, made (with `base`) if missing; None when the hierarchy refuses."""
    for _ in range(2):  # another engine may remove an empty `base` between the two mkdirs
        try:
            base.mkdir(exist_ok=True)
            (base / name).mkdir(exist_ok=True)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return base / name
    return None


def _enable(base: Path, controllers: frozenset[str]) -> frozenset[str]:
    """Enable `controllers` for the children of `base`; those that are enabled."""
    for controller in controllers:
        _write(base / "cgroup.subtree_control", f"+{controller}")
    return frozenset(_read_words(base / "cgroup.subtree_control") & controllers)


@dataclass(frozen=True)
class TaskCgroups:
    """The cgroups one task runs in, and the limits that were applied."""

    unified: Path | None = None
    """Its cgroup2 group: holds the tree (`cgroup.kill`), and limits where controllers allow."""
    unified_controllers: frozenset[str] = frozenset()
    v1: Mapping[str, Path] = field(default_factory=dict)
    """Its cgroup v1 group of each writable controller hierarchy."""
    limits: ResourceLimits = _NO_LIMITS
    virtual_memory_kib: int | None = None
    """RLIMIT_AS to apply (`ulimit -v`) because no cgroup could limit memory."""

    @property
    def dirs(self) -> tuple[Path, ...]:
        """Every cgroup of the task (each to be joined by writing 0 to its `cgroup.procs`)."""
        return ((self.unified,) if self.unified else ()) + tuple(self.v1.values())

    def processes(self) -> set[int]:
        pids: set[int] = set()
        for directory in self.dirs:
            with contextlib.suppress(OSError):
                pids.update(int(pid) for pid in (directory / "cgroup.procs").read_text().split())
        return pids

    def send_signal(self, signum: int) -> None:
        """Signal every process in the task's cgroups."""
        if signum == signal.SIGKILL and self.unified and _write(self.unified / "cgroup.kill", 1):
            return
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    async def remove(self) -> None:
        """Kill what is left in the task's cgroups and remove them (and `conveyor/` if empty)."""
        if self.processes():
            self.send_signal(signal.SIGKILL)
        for directory in self.dirs:
            for _ in range(_REMOVE_ATTEMPTS):  # killed processes leave their cgroup a moment later
                try:
                    directory.rmdir()
                except FileNotFoundError:
                    break
                except OSError:
                    await asyncio.sleep(_REMOVE_PAUSE)
                else:
                    break
            with contextlib.suppress(OSError):
                directory.parent.rmdir()

    def to_json(self) -> dict[str, object]:
        return {
            "unified": None if self.unified is None else str(self.unified),
            "v1": {controller: str(directory) for controller, directory in self.v1.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> TaskCgroups:
        unified, v1 = data.get("unified"), data.get("v1")
        return cls(
            unified=Path(unified) if isinstance(unified, str) else None,
            v1={str(c): Path(str(d)) for c, d in v1.items()} if isinstance(v1, dict) else {},
        )


def remove_stale_cgroups(
    host: CgroupHost, *, older_than: float = STALE_AFTER, names: Iterable[str] = ()
) -> None:
    """Remove task cgroups that are empty and not new: left by a server that ended while its
    tasks or standbys did. Those in use cannot be removed (the kernel refuses); `older_than`
    spares those just made for a standby that has yet to join them, unless they are `names`."""
    known = set(names)
    for base in host.bases():
        with contextlib.suppress(OSError):
            for directory in base.iterdir():
                is_old = time.time() - directory.stat().st_mtime > older_than
                if directory.is_dir() and (is_old or directory.name in known):
                    with contextlib.suppress(OSError):
                        directory.rmdir()


def make_cgroups(host: CgroupHost, name: str) -> TaskCgroups:
    """Make a task's cgroups, without limits: a group in each hierarchy the host lets us write.
    Nothing is made where the host allows nothing."""
    unified: Path | None = None
    controllers: frozenset[str] = frozenset()
    if host.unified is not None:
        unified = _make_dir(host.unified, name)
        if unified is not None:
            controllers = _enable(host.unified, host.unified_controllers)
    v1 = {}
    for controller, base in host.v1.items():
        directory = _make_dir(base, name)
        if directory is not None:
            v1[controller] = directory
    return TaskCgroups(unified=unified, unified_controllers=controllers, v1=v1)


def apply_limits(
    cgroups: TaskCgroups, *, mem_mib: float, cpus: float, cpu_quota: bool
) -> TaskCgroups:
    """Write the task's limits to its cgroups; what they cannot do falls back or is noted."""
    limiter = _Limiter(cgroups)
    mem_bytes = int(mem_mib * MIB) if mem_mib > 0 else None
    memory_method = limiter.limit_memory(mem_bytes) if mem_bytes else None
    cpu_method = limiter.limit_cpu(cpus, quota=cpu_quota) if cpus > 0 else None
    limiter.notes += [f"cgroup {directory}" for directory in cgroups.dirs]
    limits = ResourceLimits(
        method=memory_method or cpu_method or "none",
        mem_bytes=mem_bytes,
        cpu_shares=limiter.cpu_shares,
        cpu_quota_us=limiter.cpu_quota_us,
        notes=tuple(limiter.notes),
    )
    rlimit = mem_bytes // 1024 if memory_method == "rlimit" and mem_bytes else None
    return replace(cgroups, limits=limits, virtual_memory_kib=rlimit)


class _Limiter:
    """Applies limits to one task's cgroups, noting what it did."""

    def __init__(self, cgroups: TaskCgroups) -> None:
        self.cgroups = cgroups
        self.notes: list[str] = []
        self.cpu_shares: int | None = None
        self.cpu_quota_us: int | None = None

    def _unified_with(self, controller: str) -> Path | None:
        if controller in self.cgroups.unified_controllers:
            return self.cgroups.unified
        return None

    def limit_memory(self, mem_bytes: int) -> str:
        unified = self._unified_with("memory")
        if unified is not None and _write(unified / "memory.max", mem_bytes):
            _write(unified / "memory.swap.max", 0)
            self.notes.append(f"memory.max={mem_bytes}")
            return "cgroup-v2"
        v1 = self.cgroups.v1.get("memory")
        if v1 is not None and _write(v1 / "memory.limit_in_bytes", mem_bytes):
            _write(v1 / "memory.memsw.limit_in_bytes", mem_bytes)  # only with swap accounting
            self.notes.append(f"memory.limit_in_bytes={mem_bytes}")
            return "cgroup-v1"
        self.notes.append(f"RLIMIT_AS={mem_bytes} (virtual memory; no memory cgroup)")
        return "rlimit"

    def limit_cpu(self, cpus: float, *, quota: bool) -> str | None:
        shares = max(2, round(cpus * 1024))
        quota_us = max(1000, round(cpus * _CFS_PERIOD_US)) if quota else None
        unified = self._unified_with("cpu")
        weight = min(10_000, max(1, round(cpus * 100)))
        if unified is not None and _write(unified / "cpu.weight", weight):
            self.cpu_shares = shares
            self.notes.append(f"cpu.weight={weight}")
            if quota_us and _write(unified / "cpu.max", f"{quota_us} {_CFS_PERIOD_US}"):
                self.cpu_quota_us = quota_us
            return "cgroup-v2"
        v1 = self.cgroups.v1.get("cpu")
        if v1 is not None and _write(v1 / "cpu.shares", shares):
            self.cpu_shares = shares
            self.notes.append(f"cpu.shares={shares}")
            period_set = quota_us is not None and _write(v1 / "cpu.cfs_period_us", _CFS_PERIOD_US)
            if period_set and _write(v1 / "cpu.cfs_quota_us", quota_us):
                self.cpu_quota_us = quota_us
            return "cgroup-v1"
        self.notes.append("cpu: not limited (no cpu cgroup)")
        return None
