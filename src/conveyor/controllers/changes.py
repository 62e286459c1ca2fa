"""Waiting for a stored change of interest, or a timeout: a loop that would otherwise poll the
store on a fixed interval reacts as soon as the event it cares about is committed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from conveyor.domain.errors import Unavailable
from conveyor.domain.events import Event
from conveyor.store import Store


class ChangeWatch:
    def __init__(self, store: Store, is_interesting: Callable[[Event], bool]) -> None:
        self._store = store
        self._is_interesting = is_interesting
        self._events: AsyncIterator[Sequence[Event]] | None = None
        self._pending: asyncio.Task[Sequence[Event]] | None = None

    async def wait(self, timeout: float) -> None:
        """Return when an interesting event is committed, or after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            if self._pending is None:
                self._events = self._events or self._store.subscribe()
                self._pending = asyncio.ensure_future(anext(self._events))
            done, _ = await asyncio.wait({self._pending}, timeout=left)
            if not done:
                return
            task, self._pending = self._pending, None
            try:
                batch = task.result()
            except (Unavailable, StopAsyncIteration):
                self._events = None  # fell behind or ended: subscribe again
                return
            if any(self._is_interesting(event) for event in batch):
                return

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Unavailable):
                await self._pending
        closer = getattr(self._events, "aclose", None)
        if closer is not None:
            await closer()
