"""Task supervisors (`supervisor.sh`), started ahead of need so a launch does not wait for them.

A standby is a supervisor and its task side, already in a session of its own and in cgroups of
its own, with its stdout and stderr files open in a directory of its own, blocked reading a pipe
the engine holds (the supervisor waiting for it). Handing it a task is writing the limits to its
cgroups, renaming that directory to the task's sandbox, writing the sandbox path to the
supervisor and the launch script to the task side, which sources it and so execs the task in
place: the pid of the task side is the task's pid, known before the task is even handed over.
Nothing on that path creates a file, moves a process between cgroups or starts a process but the
task itself. A standby the engine drops (or loses, when the server exits) reads end-of-file and
exits.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import subprocess
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path

from conveyor.domain.errors import Unavailable
from conveyor.engines.cgroups import CgroupHost, TaskCgroups, make_cgroups
from conveyor.engines.processes import ProcessRef, default_signal_dispositions, wait_for_end
from conveyor.engines.sandboxes import Sandbox, write_state

SCRIPT = Path(__file__).with_name("supervisor.sh")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_START_TIMEOUT = 10.0
_EXIT_TIMEOUT = 2.0
REFILL_DELAY = 0.05
"""Seconds without a launch before standbys taken are replaced."""
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND
STANDBY_PREFIX = ".standby-"
_GONE = select.POLLERR | select.POLLHUP | select.POLLNVAL
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

log = logging.getLogger(__name__)


@functools.cache
def supervisor_argv() -> tuple[str, ...]:
    """How to start a supervisor here: `SHELL supervisor.sh SHELL SETSID RESET` (+ cgroups)."""
    shell = shutil.which("dash") or "/bin/sh"
    setsid = shutil.which("setsid")
    if setsid is None:
        raise Unavailable("the local engine needs `setsid` (util-linux) to start tasks")
    return (shell, str(SCRIPT), shell, setsid, _signal_reset())


def _signal_reset() -> str:
    """A command that execs its arguments with SIGINT and SIGQUIT reset, or "" if none."""
    env = shutil.which("env")
    if env is None or " " in env:
        return ""
    reset = [env, "--default-signal=INT,QUIT"]
    probe = subprocess.run([*reset, "true"], capture_output=True, check=False)
    return " ".join(reset) if probe.returncode == 0 else ""


def render_launch_script(
    command: tuple[str, ...], *, env: Mapping[str, str], workdir: Path, cgroups: TaskCgroups
) -> bytes:
    """The script the task side sources: it ends by exec'ing `command`, keeping the pid."""
    quote = shlex.quote
    lines = ["exec 3<&-"]
    if cgroups.virtual_memory_kib:
        lines.append(f"ulimit -v {cgroups.virtual_memory_kib}")
    lines += [f"cd {quote(str(workdir))} || exit 127", "unset PWD OLDPWD"]
    lines += [f"export {name}={quote(value)}" for name, value in env.items() if _is_shell(name)]
    odd = [f"{name}={value}" for name, value in env.items() if not _is_shell(name)]
    words = ["env", *odd, *command] if odd else list(command)  # names a shell cannot export
    lines.append("exec " + " ".join(quote(word) for word in words))
    return ("\n".join(lines) + "\n").encode()


def _is_shell(name: str) -> bool:
    return _SHELL_NAME.fullmatch(name) is not None


@dataclass
class Standby:
    """A supervisor waiting for its task; `task` is the process that will become the task."""

    supervisor: ProcessRef
    task: ProcessRef
    directory: Path
    """Where the task's stdout and stderr are, until the directory becomes its sandbox."""
    cgroups: TaskCgroups
    supervisor_pipe: int | None
    task_pipe: int | None

    def is_waiting(self) -> bool:
        """Whether both sides still wait for the hand-over. Each reads its pipe and is the only
        process that does (the supervisor closed its copy of the task side's; a background job
        of a shell does not get its standard input), so a side that ended shows as an error on
        our end, with no need to read /proc."""
        if self.supervisor_pipe is None or self.task_pipe is None:
            return False
        poller = select.poll()
        poller.register(self.supervisor_pipe, select.POLLOUT)
        poller.register(self.task_pipe, select.POLLOUT)
        return not any(events & _GONE for _, events in poller.poll(0))

    def hand_over(self, sandbox: Sandbox, launch_script: bytes) -> None:
        """Start the task: `sandbox` must have taken over `directory`."""
        assert self.supervisor_pipe is not None and self.task_pipe is not None
        os.write(self.supervisor_pipe, os.fsencode(sandbox.path) + b"\n")  # where to record
        _write_all(self.task_pipe, launch_script)
        self.release()

    def release(self) -> None:
        """Close our ends of the pipes: an idle standby then exits."""
        for fd in (self.supervisor_pipe, self.task_pipe):
            if fd is not None:
                os.close(fd)
        self.supervisor_pipe = self.task_pipe = None

    async def dismiss(self) -> None:
        """Let a standby that was not handed a task go, with its directory and cgroups."""
        self.release()
        shutil.rmtree(self.directory, ignore_errors=True)
        if not await wait_for_end(self.supervisor, timeout=_EXIT_TIMEOUT):
            self.supervisor.send_signal(signal.SIGKILL)
            self.task.send_signal(signal.SIGKILL)
            await wait_for_end(self.supervisor, timeout=_EXIT_TIMEOUT)
        await self.cgroups.remove()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # the task side reads as we write: a script beyond the pipe's buffer is fine
        view = view[os.write(fd, view) :]


async def start_standby(tasks_dir: Path, cgroup_host: CgroupHost) -> Standby:
    token = secrets.token_hex(8)
    directory = tasks_dir / f"{STANDBY_PREFIX}{token}"
    directory.mkdir()
    cgroups = make_cgroups(cgroup_host, token)
    try:
        pid, report, supervisor_pipe, task_pipe = _spawn_supervisor(directory, cgroups)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        await cgroups.remove()
        raise
    supervisor = ProcessRef.of(pid) or ProcessRef(pid, 0.0)
    standby = Standby(supervisor, supervisor, directory, cgroups, supervisor_pipe, task_pipe)
    try:
        task = ProcessRef.of(int(await _read_to_end(report, timeout=_START_TIMEOUT)))
        if task is None:
            raise Unavailable("it ended as it started")
    except (OSError, ValueError, TimeoutError, Unavailable) as error:
        await standby.dismiss()
        raise Unavailable(f"a task supervisor did not start: {error}") from error
    standby.task = task
    (directory / "pid").write_text(f"{task.pid} {task.start_time}\n")
    write_state(directory, _state(task, supervisor, cgroups))
    return standby


def _state(task: ProcessRef, supervisor: ProcessRef, cgroups: TaskCgroups) -> dict[str, object]:
    return {
        "task": {"pid": task.pid, "start_time": task.start_time},
        "supervisor": {"pid": supervisor.pid, "start_time": supervisor.start_time},
        "cgroups": cgroups.to_json(),
    }


def _spawn_supervisor(directory: Path, cgroups: TaskCgroups) -> tuple[int, int, int, int]:
    """Start a supervisor; its pid, and our ends of its report pipe and of both hand-overs."""
    supervisor_in, supervisor_pipe = _pipe()
    report, report_out = _pipe()
    task_in, task_pipe = _pipe()
    argv = (*supervisor_argv(), *(str(directory) for directory in cgroups.dirs))
    try:
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            {"PATH": DEFAULT_PATH},
            file_actions=[
                (os.POSIX_SPAWN_DUP2, supervisor_in, 0),
                (os.POSIX_SPAWN_DUP2, report_out, 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, task_in, 3),
                (os.POSIX_SPAWN_OPEN, 4, str(directory / "stdout"), _LOG_FLAGS, 0o644),
                (os.POSIX_SPAWN_OPEN, 5, str(directory / "stderr"), _LOG_FLAGS, 0o644),
            ],
            setsid=True,
            setsigdef=default_signal_dispositions(),
            setsigmask=(),
        )
    except BaseException:
        for fd in (report, supervisor_pipe, task_pipe):
            os.close(fd)
        raise
    finally:
        for fd in (supervisor_in, report_out, task_in):
            os.close(fd)
    return pid, report, supervisor_pipe, task_pipe


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are not among the descriptors a supervisor is given (0-6)."""
    ends = os.pipe()
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in ends)
    for fd in ends:
        os.close(fd)
    return moved[0], moved[1]


async def _read_to_end(fd: int, *, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    ended = loop.create_future()

    def read() -> None:
        data = os.read(fd, 64)
        if data:
            chunks.append(data)
        elif not ended.done():
            ended.set_result(None)

    loop.add_reader(fd, read)
    try:
        await asyncio.wait_for(ended, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks)


class StandbyPool:
    """Keeps `size` standbys ready; `take` gives one (starting one if none is on its way).

    Standbys taken are replaced a little later, not at once: starting one costs a few processes'
    worth of CPU, which would slow the task that was just handed over. An empty pool is refilled
    at once, though: the next launch would otherwise start its own."""

    def __init__(self, tasks_dir: Path, cgroup_host: CgroupHost, size: int) -> None:
        self.tasks_dir = tasks_dir
        self.cgroup_host = cgroup_host
        self.size = size
        self._ready: list[Standby] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._leaving: set[asyncio.Task[None]] = set()
        self._closed = False
        self._refill_timer: asyncio.TimerHandle | None = None

    async def take(self) -> Standby:
        standby = self._pop_ready()
        while standby is None and self._starting:
            await asyncio.wait(set(self._starting), return_when=asyncio.FIRST_COMPLETED)
            standby = self._pop_ready()
        if standby is None:
            standby = await start_standby(self.tasks_dir, self.cgroup_host)
        self._schedule_refill()
        return standby

    def _pop_ready(self) -> Standby | None:
        while self._ready:
            standby = self._ready.pop(0)
            if standby.is_waiting():
                return standby
            self.discard(standby)
        return None

    def discard(self, standby: Standby) -> None:
        """Let a standby go that was taken but not handed a task."""
        _run(self._leaving, standby.dismiss())

    def _schedule_refill(self) -> None:
        if self._refill_timer is not None:
            self._refill_timer.cancel()  # launches keep coming: wait for a quiet moment
        loop = asyncio.get_running_loop()
        delay = REFILL_DELAY if self._ready else 0.0
        self._refill_timer = loop.call_later(delay, self._refill)

    def _refill(self) -> None:
        self._refill_timer = None
        while not self._closed and len(self._ready) + len(self._starting) < self.size:
            _run(self._starting, self._start_one())

    async def _start_one(self) -> None:
        try:
            standby = await start_standby(self.tasks_dir, self.cgroup_host)
        except (OSError, Unavailable) as error:
            log.warning("could not start a standby task supervisor: %s", error)
            return
        if self._closed:
            await standby.dismiss()
        else:
            self._ready.append(standby)

    async def close(self) -> None:
        """Dismiss every standby and reap them."""
        self._closed = True
        if self._refill_timer is not None:
            self._refill_timer.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        ready, self._ready = self._ready, []
        for standby in ready:
            self.discard(standby)
        await asyncio.gather(*self._leaving, return_exceptions=True)


def _run(tasks: set[asyncio.Task[None]], coroutine: Coroutine[None, None, None]) -> None:
    """Run `coroutine` as a task kept in `tasks` until it is done."""
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
