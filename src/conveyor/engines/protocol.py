"""The engine port.

A task is started with `launch`; the engine picks its host ports (Mesos offered ports; here the
engine owns the port range) and adds the port variables Marathon tasks expect: `PORT0..n`,
`PORT`, `PORTS`, `HOST`, plus `PORT_<NAME>` for named ports. The caller supplies the rest of the
environment; where a name is in both, the caller's value wins (Marathon lets an app's `env`
override the port variables).

Tasks outlive the server: `TaskHandle` is everything needed to find a task again after a restart,
and `reattach` returns which of them still run. `exits` yields each task's end exactly once per
process lifetime of the engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from conveyor.domain.instances import ResourceLimits


@dataclass(frozen=True)
class LaunchSpec:
    """What to run. Exactly one of `shell` (run by `sh -c`) and `argv` (exec'd) is set."""

    task_id: str
    shell: str | None = None
    argv: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    port_count: int = 0
    port_names: tuple[str | None, ...] = ()
    required_ports: tuple[int, ...] = ()
    """When set (Marathon's requirePorts), exactly these host ports, else the launch fails."""
    cpus: float = 0.0
    mem_mib: float = 0.0
    image: str | None = None
    workdir: str | None = None


@dataclass(frozen=True)
class TaskHandle:
    """A launched task: enough to find it again after the server restarts."""

    task_id: str
    pid: int
    pid_start_time: float
    host: str
    ports: tuple[int, ...]
    started_at: datetime
    limits: ResourceLimits


class ExitReason(StrEnum):
    EXITED = "exited"  # the process ended by itself (exit code or signal)
    KILLED = "killed"  # it ended after `kill`
    VANISHED = "vanished"  # it is gone and nothing recorded how (machine restart, deleted dir)


@dataclass(frozen=True)
class TaskExit:
    task_id: str
    reason: ExitReason
    exit_code: int | None
    """Exit status; a negative number -N means killed by signal N."""
    ended_at: datetime
    message: str = ""


class LogStream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True)
class Node:
    """Where tasks run: a hostname and the attributes constraints are evaluated against."""

    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class Engine(Protocol):
    @property
    def nodes(self) -> tuple[Node, ...]: ...

    async def launch(self, spec: LaunchSpec, *, node: str | None = None) -> TaskHandle:
        """Start the task; returns once its process exists. Raises Unavailable when no port or
        node can take it."""
        ...

    async def kill(self, task_id: str, *, grace_seconds: float) -> None:
        """SIGTERM the task's whole process tree, SIGKILL after `grace_seconds`. Returns at once;
        the end arrives through `exits`."""
        ...

    async def reattach(self, handles: list[TaskHandle]) -> list[TaskExit]:
        """Adopt tasks launched by an earlier server: live ones are watched again (their ports
        held), and the ends of those that stopped meanwhile are returned."""
        ...

    def exits(self) -> AsyncIterator[TaskExit]:
        """Each task's end, once."""
        ...

    def read_log(
        self, task_id: str, stream: LogStream, *, offset: int = 0, limit: int = 1 << 20
    ) -> tuple[bytes, int]:
        """Bytes from `offset` of the task's stdout or stderr, and the offset after them."""
        ...

    def log_path(self, task_id: str, stream: LogStream) -> str | None: ...

    async def close(self) -> None:
        """Stop watching. Tasks keep running."""
        ...
