"""Events: appended in order, listed after an id, pruned, delivered to subscribers on commit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conveyor.domain.events import Event
from conveyor.store.sql import SqlStore
from conveyor.store.subscriptions import SubscriptionOverflow, Subscriptions

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WAIT = 5.0  # seconds a delivery that must come may take


def append(store: SqlStore, *types: str) -> list[int]:
    with store.transaction() as tx:
        return [tx.append_event(kind, {"eventType": kind}, at=T0) for kind in types]


def types_of(batch: Sequence[Event]) -> list[str]:
    return [event.type for event in batch]


def test_event_ids_increase_and_events_read_back(store: SqlStore) -> None:
    moment = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with store.transaction() as tx:
        first = tx.append_event("a", {"eventType": "a", "nested": {"list": [1, None]}}, at=moment)
    second, third = append(store, "b", "c")

    assert first < second < third
    with store.transaction() as tx:
        events = tx.list_events()
    assert events[0] == Event(first, "a", moment, {"eventType": "a", "nested": {"list": [1, None]}})
    assert [event.id for event in events] == [first, second, third]


def test_events_are_listed_after_an_id_up_to_a_limit(store: SqlStore) -> None:
    ids = append(store, "a", "b", "c", "d", "e")

    with store.transaction() as tx:
        assert [e.id for e in tx.list_events(after=ids[1], limit=2)] == ids[2:4]
        assert tx.list_events(after=ids[-1]) == []


def test_old_events_are_pruned_beyond_the_kept_number(store_url: str) -> None:
    store = SqlStore.open(store_url, keep_events=3)
    try:
        for kind in "abcdef":
            append(store, kind)

        with store.transaction() as tx:
            assert [event.type for event in tx.list_events()] == ["d", "e", "f"]
    finally:
        store.close()


def test_a_subscriber_gets_each_transactions_events_after_it_commits(store: SqlStore) -> None:
    async def scenario() -> list[list[str]]:
        events = store.subscribe()
        with store.transaction() as tx:
            tx.append_event("first", {}, at=T0)
            tx.append_event("second", {}, at=T0)
            with pytest.raises(TimeoutError):  # nothing before the commit
                await asyncio.wait_for(anext(events), 0.05)
        append(store, "third")
        batches = [types_of(await asyncio.wait_for(anext(events), WAIT)) for _ in range(2)]
        await events.aclose()
        return batches

    assert asyncio.run(scenario()) == [["first", "second"], ["third"]]


def test_delivered_events_equal_the_stored_ones(store: SqlStore) -> None:
    async def scenario() -> Sequence[Event]:
        events = store.subscribe()
        with store.transaction() as tx:
            tx.append_event("a", {"tuple": [1, 2], "text": "é"}, at=T0)
        return await asyncio.wait_for(anext(events), WAIT)

    delivered = asyncio.run(scenario())
    with store.transaction() as tx:
        assert list(delivered) == tx.list_events()


def test_a_rolled_back_transaction_delivers_nothing(store: SqlStore) -> None:
    async def scenario() -> list[str]:
        events = store.subscribe()
        with contextlib.suppress(RuntimeError), store.transaction() as tx:
            tx.append_event("lost", {}, at=T0)
            raise RuntimeError("changed my mind")
        append(store, "kept")
        return types_of(await asyncio.wait_for(anext(events), WAIT))

    assert asyncio.run(scenario()) == ["kept"]


def test_commits_on_other_threads_reach_the_subscriber_in_commit_order(store: SqlStore) -> None:
    def commit_many(worker: int) -> None:
        for number in range(10):
            append(store, f"w{worker}-{number}")

    async def scenario() -> list[Event]:
        events = store.subscribe()
        threads = [threading.Thread(target=commit_many, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        received: list[Event] = []
        while len(received) < 30:
            received += await asyncio.wait_for(anext(events), WAIT)
        await asyncio.to_thread(lambda: [thread.join() for thread in threads])
        return received

    received = asyncio.run(scenario())
    assert [event.id for event in received] == sorted(event.id for event in received)
    with store.transaction() as tx:
        assert received == tx.list_events()


def test_every_subscriber_gets_every_batch(store: SqlStore) -> None:
    async def scenario() -> list[list[str]]:
        subscribers = [store.subscribe(), store.subscribe()]
        await asyncio.to_thread(append, store, "shared")
        return [types_of(await asyncio.wait_for(anext(s), WAIT)) for s in subscribers]

    assert asyncio.run(scenario()) == [["shared"], ["shared"]]


def test_a_subscriber_that_falls_behind_is_dropped_and_told_where_it_stopped(
    store_url: str,
) -> None:
    store = SqlStore.open(store_url, max_buffered_events=3)

    async def scenario() -> tuple[list[str], SubscriptionOverflow]:
        events = store.subscribe()
        [first] = append(store, "read")
        got = types_of(await asyncio.wait_for(anext(events), WAIT))
        append(store, "a", "b")
        append(store, "c", "d")  # five behind: over the limit of three
        with pytest.raises(SubscriptionOverflow) as raised:
            await asyncio.wait_for(anext(events), WAIT)
        assert raised.value.last_event_id == first
        return got, raised.value

    try:
        got, overflow = asyncio.run(scenario())
    finally:
        store.close()
    assert got == ["read"]
    assert "fell more than 3 events behind" in overflow.message


def test_a_closed_subscription_ends_and_gets_no_more(store: SqlStore) -> None:
    async def scenario() -> None:
        events = store.subscribe()
        await events.aclose()
        append(store, "after")
        with pytest.raises(StopAsyncIteration):
            await anext(events)

    asyncio.run(scenario())


def test_closing_a_subscription_wakes_a_pending_read(store: SqlStore) -> None:
    async def scenario() -> None:
        events = store.subscribe()
        pending = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.01)
        await events.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(pending, WAIT)

    asyncio.run(scenario())


def test_closing_the_store_ends_every_subscription(store_url: str) -> None:
    store = SqlStore.open(store_url)

    async def scenario() -> list[list[str]]:
        events = store.subscribe()
        append(store, "last")
        store.close()
        return [types_of(batch) async for batch in events]

    assert asyncio.run(scenario()) == [["last"]]


def test_forgotten_and_closed_subscriptions_are_unsubscribed() -> None:
    hub = Subscriptions()

    async def scenario() -> None:
        closed = hub.subscribe()
        hub.subscribe()  # dropped on the floor: collected
        kept = hub.subscribe()
        await closed.aclose()
        assert hub.count() == 1
        hub.publish([Event(1, "a", T0, {})])
        assert types_of(await anext(kept)) == ["a"]

    asyncio.run(scenario())
