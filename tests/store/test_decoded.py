"""Listing apps and instances decodes only the documents that changed since the last listing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from conveyor.domain.instances import Instance, InstanceState
from conveyor.store.decoded import DecodedCache, document_digest
from conveyor.store.sql import SqlStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def instance(number: int) -> Instance:
    return Instance(
        id=f"web.{number:02d}",
        app_id="/web",
        version=T0,
        state=InstanceState.RUNNING,
        host="h",
        staged_at=T0 + timedelta(seconds=number),
    )


def put_instances(store: SqlStore, *records: Instance) -> None:
    with store.transaction() as tx:
        for record in records:
            tx.put_instance(record)


def listed(store: SqlStore, app_id: str | None = None) -> list[Instance]:
    with store.transaction() as tx:
        return tx.list_instances(app_id)


def test_unchanged_records_are_not_decoded_again(store: SqlStore) -> None:
    put_instances(store, *(instance(n) for n in range(10)))
    before = listed(store)

    after = listed(store)

    assert all(old is new for old, new in zip(before, after, strict=True))


def test_a_few_changed_records_are_decoded_afresh(store: SqlStore) -> None:
    put_instances(store, *(instance(n) for n in range(10)))
    before = listed(store)
    changed = replace(instance(3), state=InstanceState.FAILED)
    put_instances(store, changed)

    after = listed(store)

    assert after[3] == changed
    assert [old is new for old, new in zip(before, after, strict=True)].count(False) == 1


def test_mostly_changed_records_are_all_read_back_right(store: SqlStore) -> None:
    put_instances(store, *(instance(n) for n in range(10)))
    listed(store)
    changed = [replace(instance(n), host="elsewhere") for n in range(8)]
    put_instances(store, *changed)

    assert listed(store) == [*changed, instance(8), instance(9)]
    assert listed(store, "/web") == [*changed, instance(8), instance(9)]


def test_deleted_records_are_not_listed_from_the_cache(store: SqlStore) -> None:
    put_instances(store, instance(1), instance(2))
    listed(store)
    with store.transaction() as tx:
        tx.delete_instance("web.01")

    assert listed(store) == [instance(2)]


def test_the_digest_tells_documents_apart() -> None:
    assert document_digest('{"a":1}') == document_digest('{"a":1}')
    assert document_digest('{"a":1}') != document_digest('{"a":2}')
    assert -(2**63) <= document_digest("x") < 2**63


def test_the_cache_answers_only_for_the_digest_it_was_given() -> None:
    cache: DecodedCache[str] = DecodedCache()
    cache.put("a", 1, "first")

    assert cache.get("a", 1) == "first"
    assert cache.get("a", 2) is None
    assert cache.get("b", 1) is None


def test_the_cache_forgets_what_a_full_listing_no_longer_shows() -> None:
    cache: DecodedCache[str] = DecodedCache()
    cache.put("a", 1, "kept")
    cache.put("b", 1, "deleted")

    cache.keep_only(["a"])

    assert cache.get("a", 1) == "kept"
    assert cache.get("b", 1) is None


def test_the_cache_stays_within_its_limit() -> None:
    cache: DecodedCache[int] = DecodedCache(limit=10)
    for number in range(25):
        cache.put(str(number), 0, number)

    assert sum(cache.get(str(number), 0) is not None for number in range(25)) <= 10
