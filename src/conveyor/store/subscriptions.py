"""Delivery of committed events to asyncio subscribers, from whichever thread committed them.

A subscription belongs to the event loop that created it. `publish` may run on any thread: it
appends the batch to each subscription's buffer under a lock and wakes the subscriber's loop with
`call_soon_threadsafe` (at most one wake-up is pending per subscription, so a blocked loop does
not pile up callbacks either).

Overflow policy: a subscriber that falls more than `max_buffered_events` behind is dropped, not
trimmed. Its buffer is freed at once, it stops receiving, and its next read raises
`SubscriptionOverflow`, which names the last event it received so that it can catch up with
`list_events(after=...)` and subscribe again. Silently losing the oldest events instead would let
a listener (an SSE stream, a controller) carry on with a wrong picture.

A subscription ends when it is closed (`aclose`, e.g. by `contextlib.aclosing`), when it is
garbage-collected, or when the store closes (then iteration simply stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Sequence

from conveyor.domain.errors import Unavailable
from conveyor.domain.events import Event

DEFAULT_MAX_BUFFERED_EVENTS = 10_000


class SubscriptionOverflow(Unavailable):
    """The subscriber fell too far behind and was dropped; nothing after `last_event_id` came."""

    def __init__(self, message: str, *, last_event_id: int) -> None:
        super().__init__(message)
        self.last_event_id = last_event_id


class EventSubscription:
    """An async iterator of event batches, in commit order."""

    def __init__(self, hub: Subscriptions, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self._hub = hub
        self._loop = loop
        self._limit = limit
        self._lock = threading.Lock()
        self._batches: deque[tuple[Event, ...]] = deque()
        self._buffered = 0
        self._last_event_id = 0
        self._overflowed = False
        self._ended = False
        self._wakeup_pending = False
        self._waiter: asyncio.Future[None] | None = None

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> Sequence[Event]:
        while True:
            with self._lock:
                batch = self._next_batch()
                if batch is not None:
                    return batch
                self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _next_batch(self) -> tuple[Event, ...] | None:
        """The oldest buffered batch, or None to wait; raises when the subscription is over."""
        if self._batches:
            batch = self._batches.popleft()
            self._buffered -= len(batch)
            self._last_event_id = batch[-1].id
            return batch
        if self._overflowed:
            raise SubscriptionOverflow(
                f"event subscriber fell more than {self._limit} events behind and was dropped",
                last_event_id=self._last_event_id,
            )
        if self._ended:
            raise StopAsyncIteration
        return None

    async def aclose(self) -> None:
        """Stop listening; a pending read ends."""
        self.end()

    def deliver(self, batch: tuple[Event, ...]) -> bool:
        """Buffer `batch` (any thread). False when this subscription no longer listens."""
        with self._lock:
            if self._ended or self._overflowed:
                return False
            if self._buffered + len(batch) > self._limit:
                self._batches.clear()
                self._buffered = 0
                self._overflowed = True
            else:
                self._batches.append(batch)
                self._buffered += len(batch)
            listening = not self._overflowed
            if self._wakeup_pending:
                return listening
            self._wakeup_pending = True
        return self._schedule_wakeup() and listening

    def end(self) -> None:
        """Stop delivering (any thread); the subscriber sees the end after what is buffered."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            schedule = not self._wakeup_pending
            self._wakeup_pending = True
        self._hub.discard(self)
        if schedule:
            self._schedule_wakeup()

    def _schedule_wakeup(self) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the subscriber's loop is closed: nobody will read
            with self._lock:
                self._ended = True
            return False
        return True

    def _wake(self) -> None:
        with self._lock:
            self._wakeup_pending = False
            waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Subscriptions:
    """The subscriptions of one store."""

    def __init__(self, *, max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS) -> None:
        self._limit = max_buffered_events
        self._lock = threading.Lock()
        self._subscriptions: weakref.WeakSet[EventSubscription] = weakref.WeakSet()
        self._closed = False

    def subscribe(self) -> EventSubscription:
        """A new subscription on the running event loop (call it from a coroutine)."""
        subscription = EventSubscription(self, asyncio.get_running_loop(), self._limit)
        with self._lock:
            if not self._closed:
                self._subscriptions.add(subscription)
                return subscription
        subscription.end()
        return subscription

    def publish(self, batch: Sequence[Event]) -> None:
        """Hand a committed batch to every subscription (any thread)."""
        if not batch:
            return
        events = tuple(batch)
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            if not subscription.deliver(events):
                self.discard(subscription)

    def count(self) -> int:
        """How many subscriptions listen now."""
        with self._lock:
            return len(self._subscriptions)

    def discard(self, subscription: EventSubscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def close(self) -> None:
        """End every subscription; later ones end at once."""
        with self._lock:
            self._closed = True
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.end()


class TimedBatches:
    """Reads batches from a `Store.subscribe()` iterator with a time limit on each read. A read
    the limit interrupts stays pending for the next call: cancelling `anext` instead would end
    the subscription."""

    def __init__(self, batches: AsyncIterator[Sequence[Event]]) -> None:
        self._batches = batches
        self._pending: asyncio.Task[Sequence[Event]] | None = None

    async def next(self, timeout: float) -> Sequence[Event] | None:
        """The next batch, or None when `timeout` seconds pass first. Raises what the
        subscription raises (StopAsyncIteration, SubscriptionOverflow)."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(self._batches))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        task, self._pending = self._pending, None
        return task.result()

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Unavailable):
                await self._pending
            self._pending = None
        closer = getattr(self._batches, "aclose", None)
        if closer is not None:
            await closer()
