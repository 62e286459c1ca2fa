"""A doorbell for control loops: anyone may ring it (from any thread); each loop waits for a
ring it has not seen yet, or a timeout, whichever comes first.

Several loops share one doorbell (the apps controller, the build runner, the git watcher). A
ring wakes every one of them: each waiting task remembers the last ring it saw, so one loop
taking a ring never hides it from another that was busy when it came. Loops that wait with a
higher `priority` are woken first: the apps controller goes before the others, since a launch
waits on it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import weakref


class Wakeup:
    def __init__(self) -> None:
        self._rings = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: weakref.WeakKeyDictionary[asyncio.Task[object], int] = (
            weakref.WeakKeyDictionary()
        )

    def ring(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._ring()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._ring()
        else:
            loop.call_soon_threadsafe(self._ring)

    def _ring(self) -> None:
        self._rings += 1
        waiters, self._waiters = sorted(self._waiters), []
        for _, _, future in waiters:
            if not future.done():
                future.set_result(None)

    async def wait(self, timeout: float, *, priority: int = 0) -> None:
        """Return after a ring this task has not seen yet (even one that came before this call)
        or after `timeout`."""
        loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        seen = self._seen.get(task, self._rings) if task is not None else self._rings
        if seen == self._rings:
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((-priority, next(self._order), future))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(future, timeout)
            finally:
                self._waiters = [entry for entry in self._waiters if entry[2] is not future]
        if task is not None:
            self._seen[task] = self._rings
