"""The local engine: tasks are processes on this machine.

Each task has a sandbox directory (`<data_dir>/tasks/<task_id>/`: logs and small state files)
and a supervisor, a small shell script that is the task's parent and records its exit status
(see `supervisor.sh`). The server is not the task's parent, so tasks survive it: a restarted
server reattaches to those still running and learns how the others ended from their records.
A task runs in its own session and process group, and in cgroups where the host allows them;
killing it signals all of these, so its whole tree ends, and what a task leaves behind in them
ends with it.

A handle's `pid_start_time` is in seconds since the epoch, read from /proc (as psutil's
`create_time`): with the pid it tells a task from a process that got its pid later.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from conveyor.domain.clock import Clock, SystemClock
from conveyor.domain.environment import port_environment
from conveyor.domain.errors import Conflict, NotFound, Unavailable
from conveyor.engines.cgroups import (
    CgroupHost,
    TaskCgroups,
    apply_limits,
    remove_stale_cgroups,
)
from conveyor.engines.ports import PortPool
from conveyor.engines.processes import (
    ProcessRef,
    ProcessWatch,
    Reaper,
    read_stat,
    signal_group,
)
from conveyor.engines.protocol import (
    ExitReason,
    LaunchSpec,
    LogStream,
    Node,
    TaskExit,
    TaskHandle,
)
from conveyor.engines.sandboxes import ExitRecord, Sandbox
from conveyor.engines.supervisors import (
    DEFAULT_PATH,
    STANDBY_PREFIX,
    StandbyPool,
    render_launch_script,
)

_REAP_TIMEOUT = 0.5


@dataclass
class _RunningTask:
    handle: TaskHandle
    sandbox: Sandbox
    cgroups: TaskCgroups
    supervisor: ProcessRef | None
    """None once the supervisor is gone (then the task itself is watched)."""
    watch: ProcessWatch | None = None
    killing: bool = False
    force_kill: asyncio.TimerHandle | None = None

    @property
    def process(self) -> ProcessRef:
        return ProcessRef(self.handle.pid, self.handle.pid_start_time)


class LocalEngine:
    """Runs tasks as processes on this host; see the module docstring."""

    def __init__(
        self,
        data_dir: Path,
        *,
        hostname: str | None = None,
        attributes: Mapping[str, str] | None = None,
        port_range: tuple[int, int] = (31000, 32000),
        clock: Clock | None = None,
        cpu_quota: bool = False,
        cgroups: CgroupHost | None = None,
        standby_supervisors: int = 2,
    ) -> None:
        """`port_range` is inclusive. `cgroups` defaults to what this host offers
        (`CgroupHost()` turns them off). `standby_supervisors` are kept started ahead of
        launches."""
        self._tasks_dir = Path(data_dir).absolute() / "tasks"
        self._hostname = hostname or socket.gethostname()
        self._node = Node(self._hostname, dict(attributes or {}))
        self._ports = PortPool(*port_range)
        self._clock = clock or SystemClock()
        self._cpu_quota = cpu_quota
        cgroup_host = CgroupHost.detect() if cgroups is None else cgroups
        self._tasks_dir.mkdir(parents=True, exist_ok=True)
        stale = _remove_stale_standbys(self._tasks_dir)
        remove_stale_cgroups(cgroup_host, names=stale)
        self._standbys = StandbyPool(self._tasks_dir, cgroup_host, standby_supervisors)
        self._running: dict[str, _RunningTask] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self._reaper = Reaper()
        self._exits: asyncio.Queue[TaskExit | None] = asyncio.Queue()

    @property
    def nodes(self) -> tuple[Node, ...]:
        return (self._node,)

    async def launch(self, spec: LaunchSpec, *, node: str | None = None) -> TaskHandle:
        command = self._command(spec, node)
        sandbox = Sandbox(self._tasks_dir, spec.task_id)
        if spec.task_id in self._running:
            raise Conflict(f"task {spec.task_id} is already running")
        if spec.required_ports:
            ports = self._ports.claim(spec.task_id, spec.required_ports)
        else:
            ports = self._ports.allocate(spec.task_id, spec.port_count)
        try:
            return await self._start(spec, command, sandbox, ports)
        except BaseException:
            self._ports.release(spec.task_id)
            raise

    def _command(self, spec: LaunchSpec, node: str | None) -> tuple[str, ...]:
        if node is not None and node != self._hostname:
            raise Unavailable(f"no node {node!r} here; the local engine runs on {self._hostname}")
        if spec.image is not None:
            raise Unavailable("the local engine does not run container images yet")
        if (spec.shell is None) == (not spec.argv):
            raise ValueError(f"task {spec.task_id}: set exactly one of shell and argv")
        return ("/bin/sh", "-c", spec.shell) if spec.shell is not None else tuple(spec.argv or ())

    async def _start(
        self, spec: LaunchSpec, command: tuple[str, ...], sandbox: Sandbox, ports: tuple[int, ...]
    ) -> TaskHandle:
        env = _task_environment(spec, ports, self._hostname)
        workdir = Path(spec.workdir) if spec.workdir else sandbox.path
        standby = await self._standbys.take()
        try:
            cgroups = apply_limits(
                standby.cgroups, mem_mib=spec.mem_mib, cpus=spec.cpus, cpu_quota=self._cpu_quota
            )
            script = render_launch_script(command, env=env, workdir=workdir, cgroups=cgroups)
            sandbox.take_over(standby.directory)
            standby.hand_over(sandbox, script)
        except BaseException as error:
            self._standbys.discard(standby)
            if isinstance(error, OSError):  # e.g. its supervisor was killed meanwhile
                raise Unavailable(f"task {spec.task_id} could not start: {error}") from error
            raise
        handle = TaskHandle(
            task_id=spec.task_id,
            pid=standby.task.pid,
            pid_start_time=standby.task.start_time,
            host=self._hostname,
            ports=ports,
            started_at=self._clock.now(),
            limits=cgroups.limits,
        )
        self._watch(_RunningTask(handle, sandbox, cgroups, standby.supervisor))
        return handle

    async def kill(self, task_id: str, *, grace_seconds: float) -> None:
        task = self._running.get(task_id)
        if task is None:
            return
        task.killing = True
        _signal_tree(task, signal.SIGTERM)
        if task.force_kill is None:
            loop = asyncio.get_running_loop()
            task.force_kill = loop.call_later(
                max(0.0, grace_seconds), _signal_tree, task, signal.SIGKILL
            )

    async def reattach(self, handles: list[TaskHandle]) -> list[TaskExit]:
        ended: list[TaskExit] = []
        for handle in handles:
            if handle.task_id not in self._running:
                exit_ = await self._reattach(handle)
                if exit_ is not None:
                    ended.append(exit_)
        return ended

    async def _reattach(self, handle: TaskHandle) -> TaskExit | None:
        sandbox = Sandbox(self._tasks_dir, handle.task_id)
        state = sandbox.read_state()
        cgroups = TaskCgroups.from_json(state.get("cgroups", {}))
        supervisor = _recorded_supervisor(state)
        if supervisor is not None:
            supervisor.reap()  # it may have ended as a child of ours, unwatched
            supervisor = supervisor if supervisor.is_running() else None
        task = _RunningTask(handle, sandbox, cgroups, supervisor)
        if _is_still_running(task):
            self._ports.hold(handle.task_id, handle.ports)
            self._watch(task)
            return None
        record = sandbox.read_exit()
        await cgroups.remove()  # what the task left behind
        if supervisor is not None:
            self._reaper.reap_when_ended(supervisor)
        reason = ExitReason.EXITED if record is not None else ExitReason.VANISHED
        return self._task_exit(handle.task_id, reason, record)

    def _watch(self, task: _RunningTask) -> None:
        self._running[task.handle.task_id] = task
        watched = task.supervisor or task.process
        task.watch = ProcessWatch(watched, lambda: self._on_end(task))

    def _on_end(self, task: _RunningTask) -> None:
        finishing = asyncio.get_running_loop().create_task(self._finish(task))
        self._finishing.add(finishing)
        finishing.add_done_callback(self._finishing.discard)

    async def _finish(self, task: _RunningTask) -> None:
        record = task.sandbox.read_exit()
        if record is None and task.supervisor is not None and task.process.is_running():
            task.supervisor = None  # the supervisor was killed; the task is watched from now
            self._watch(task)
            return
        self._running.pop(task.handle.task_id, None)
        if task.force_kill is not None:
            task.force_kill.cancel()
        signal_group(task.handle.pid, signal.SIGKILL)  # what the task left in its group
        await task.cgroups.remove()
        self._ports.release(task.handle.task_id)
        if task.killing:
            reason = ExitReason.KILLED
        else:
            reason = ExitReason.EXITED if record is not None else ExitReason.VANISHED
        self._exits.put_nowait(self._task_exit(task.handle.task_id, reason, record))

    def _task_exit(self, task_id: str, reason: ExitReason, record: ExitRecord | None) -> TaskExit:
        if record is None:
            message = "the task ended without a recorded exit status"
            return TaskExit(task_id, reason, None, self._clock.now(), message)
        return TaskExit(task_id, reason, record.exit_code, record.ended_at)

    async def exits(self) -> AsyncIterator[TaskExit]:
        while (task_exit := await self._exits.get()) is not None:
            yield task_exit

    def read_log(
        self, task_id: str, stream: LogStream, *, offset: int = 0, limit: int = 1 << 20
    ) -> tuple[bytes, int]:
        try:
            with Sandbox(self._tasks_dir, task_id).log(stream).open("rb") as file:
                beyond_end = offset >= os.fstat(file.fileno()).st_size
                data = b"" if beyond_end else os.pread(file.fileno(), limit, offset)
        except (FileNotFoundError, ValueError) as error:
            raise NotFound(f"no {stream.value} log for task {task_id}") from error
        return data, offset + len(data)

    def log_path(self, task_id: str, stream: LogStream) -> str | None:
        try:
            path = Sandbox(self._tasks_dir, task_id).log(stream)
        except ValueError:
            return None
        return str(path) if path.exists() else None

    async def close(self) -> None:
        """Stop watching; tasks keep running (a pending SIGKILL after a kill is not sent)."""
        for task in self._running.values():
            if task.watch is not None:
                task.watch.cancel()
            if task.force_kill is not None:
                task.force_kill.cancel()
        self._running.clear()
        await asyncio.gather(*self._finishing, return_exceptions=True)
        await self._standbys.close()
        await self._reaper.close(timeout=_REAP_TIMEOUT)
        self._exits.put_nowait(None)


def _remove_stale_standbys(tasks_dir: Path) -> list[str]:
    """Remove the directories of standbys whose server is gone (one engine serves a data dir at
    a time); the names of their cgroups."""
    names = []
    for directory in tasks_dir.glob(f"{STANDBY_PREFIX}*"):
        shutil.rmtree(directory, ignore_errors=True)
        names.append(directory.name.removeprefix(STANDBY_PREFIX))
    return names


def _task_environment(spec: LaunchSpec, ports: tuple[int, ...], host: str) -> dict[str, str]:
    env = {"PATH": DEFAULT_PATH, "HOME": os.path.expanduser("~")}
    env.update(port_environment(ports, spec.port_names, host))
    env.update(spec.env)  # the caller's variables win, as an app's `env` does in Marathon
    return env


def _signal_tree(task: _RunningTask, signum: int) -> None:
    """Signal the task, its process group and everything in its cgroups."""
    task.process.send_signal(signum)  # should it have left its group
    signal_group(task.handle.pid, signum)
    task.cgroups.send_signal(signum)


def _recorded_supervisor(state: Mapping[str, object]) -> ProcessRef | None:
    recorded = state.get("supervisor")
    if not isinstance(recorded, dict):
        return None
    try:
        return ProcessRef(int(recorded["pid"]), float(recorded["start_time"]))
    except (KeyError, TypeError, ValueError):
        return None


def _is_still_running(task: _RunningTask) -> bool:
    """The task's own process runs; or it has just ended (its pid not yet reused) and its
    supervisor is about to record how."""
    if task.process.is_running():
        return True
    stat = read_stat(task.handle.pid)
    is_reused = stat is not None and not task.process.is_same(stat)
    return task.supervisor is not None and not is_reused
