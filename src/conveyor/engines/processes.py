"""Processes by identity: a pid and its start time, so a reused pid is not taken for the original.

The local engine watches processes it may not be the parent of (a restarted server adopts the
supervisors of an earlier one), so ends are observed with a pidfd where the kernel has them and by
polling otherwise, and a process is reaped only when it is this process's own child.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

POLL_INTERVAL = 0.5
"""Seconds between checks where a pidfd cannot be had."""

_START_TIME_TOLERANCE = 2.0
"""Seconds. /proc/stat's boot time is whole seconds and moves when the clock is stepped, so start
times read by two servers may differ by a second; a pid is never reused that quickly."""


@dataclass(frozen=True)
class ProcessStat:
    state: str
    ppid: int
    start_time: float
    """Seconds since the epoch, as psutil's `create_time`."""


@functools.cache
def _boot_time() -> float:
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def read_stat(pid: int) -> ProcessStat | None:
    """The state, parent and start time of `pid`, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(b")") + 2 :].split()  # the command name may hold spaces and ")"
    ticks = int(fields[19])
    start_time = _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    return ProcessStat(state=fields[0].decode(), ppid=int(fields[1]), start_time=start_time)


@dataclass(frozen=True)
class ProcessRef:
    """One process: its pid and the time it started."""

    pid: int
    start_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        stat = read_stat(pid)
        return None if stat is None else cls(pid, stat.start_time)

    def is_same(self, stat: ProcessStat | None) -> bool:
        return stat is not None and abs(stat.start_time - self.start_time) < _START_TIME_TOLERANCE

    def is_running(self) -> bool:
        """True while this very process exists and has not ended (a zombie has ended)."""
        stat = read_stat(self.pid)
        return self.is_same(stat) and stat is not None and stat.state != "Z"

    def send_signal(self, signum: int) -> None:
        """Signal the process if it is still this one; a process that is gone is not an error."""
        if self.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def reap(self) -> None:
        """Collect the exit status if the process is an ended child of ours (no zombies left)."""
        stat = read_stat(self.pid)
        is_our_zombie = stat is not None and stat.state == "Z" and stat.ppid == os.getpid()
        if is_our_zombie and self.is_same(stat):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, os.WNOHANG)


def signal_group(pgid: int, signum: int) -> None:
    """Signal a process group; a group that no longer exists is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class ProcessWatch:
    """Calls `on_end` once, when `process` has ended, and reaps it if it is our child."""

    def __init__(
        self, process: ProcessRef, on_end: Callable[[], None], *, pidfd: bool = True
    ) -> None:
        """`pidfd=False` polls even where the kernel has pidfds."""
        self.process = process
        self._on_end = on_end
        self._pidfd: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._ended = False
        self._loop = asyncio.get_running_loop()
        try:
            self._pidfd = _open_pidfd(process.pid) if pidfd else None
        except ProcessLookupError:
            self._loop.call_soon(self._end)
            return
        if self._pidfd is None:  # no pidfd on this kernel, or not allowed: check twice a second
            self._poller = self._loop.create_task(self._poll())
        elif not self.process.is_running():  # it ended (or the pid was reused) before the open
            self._loop.call_soon(self._end)
        else:
            self._loop.add_reader(self._pidfd, self._end)

    async def _poll(self) -> None:
        while self.process.is_running():
            await asyncio.sleep(POLL_INTERVAL)
        self._end()

    def _end(self) -> None:
        if self._ended:
            return
        self._reap()
        on_end = self._on_end
        self.cancel()
        on_end()

    def _reap(self) -> None:
        if self._pidfd is not None and self.process.is_same(read_stat(self.process.pid)):
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
        else:
            self.process.reap()

    def cancel(self) -> None:
        """Stop watching; `on_end` will not be called."""
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poller is not None and self._poller is not asyncio.current_task():
            self._poller.cancel()
        self._poller = None
        self._ended = True
        self._on_end = _nothing


def _nothing() -> None:
    pass


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except (OSError, AttributeError):
        return None


async def wait_for_end(process: ProcessRef, *, timeout: float) -> bool:
    """Wait until `process` has ended (reaping it if it is our child); False on timeout."""
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def mark_ended() -> None:
        if not ended.done():
            ended.set_result(None)

    watch = ProcessWatch(process, mark_ended)
    try:
        await asyncio.wait_for(ended, timeout)
    except TimeoutError:
        return False
    finally:
        watch.cancel()
    return True


class Reaper:
    """Reaps processes once they end, so that children of ours do not stay zombies."""

    def __init__(self) -> None:
        self._watches: dict[ProcessRef, ProcessWatch] = {}

    def reap_when_ended(self, process: ProcessRef) -> None:
        if process not in self._watches:
            self._watches[process] = ProcessWatch(process, lambda: self._forget(process))

    def _forget(self, process: ProcessRef) -> None:
        self._watches.pop(process, None)

    async def close(self, *, timeout: float) -> list[ProcessRef]:
        """Wait up to `timeout` for the processes still watched; those that did not end."""
        pending = list(self._watches)
        for watch in self._watches.values():
            watch.cancel()
        self._watches.clear()
        ended = await asyncio.gather(*(wait_for_end(p, timeout=timeout) for p in pending))
        return [process for process, done in zip(pending, ended, strict=True) if not done]


def default_signal_dispositions() -> set[signal.Signals]:
    """Every signal a child can reset to its default action (Python ignores SIGPIPE, SIGXFSZ)."""
    return set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
