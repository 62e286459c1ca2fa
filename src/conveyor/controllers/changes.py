"""Waiting for a stored change of interest, or a timeout: a loop that would otherwise poll the
store on a fixed interval reacts as soon as the event it cares about is committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from conveyor.domain.errors import Unavailable
from conveyor.domain.events import Event
from conveyor.store import Store, TimedBatches


class ChangeWatch:
    def __init__(self, store: Store, is_interesting: Callable[[Event], bool]) -> None:
        self._store = store
        self._is_interesting = is_interesting
        self._batches: TimedBatches | None = None

    async def wait(self, timeout: float) -> None:
        """Return when an interesting event is committed, or after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            self._batches = self._batches or TimedBatches(self._store.subscribe())
            try:
                batch = await self._batches.next(left)
            except (Unavailable, StopAsyncIteration):
                await self.close()  # fell behind or ended: subscribe again next time
                return
            if batch is None or any(self._is_interesting(event) for event in batch):
                return

    async def close(self) -> None:
        if self._batches is not None:
            await self._batches.close()
            self._batches = None
