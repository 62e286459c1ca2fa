"""Transactions: all of it is stored or none of it, from any thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.instances import Instance, InstanceState
from conveyor.store.sql import SqlStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Boom(Exception):
    pass


def app(app_id: str) -> AppDefinition:
    return AppDefinition(id=app_id, version=T0, version_info=VersionInfo(T0, T0))


def test_an_exception_rolls_back_everything_the_transaction_wrote(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_app(app("/kept"))
        tx.put_value("counter", 1)

    with pytest.raises(Boom), store.transaction() as tx:
        tx.put_app(app("/lost"))
        tx.delete_app("/kept")
        tx.put_instance(Instance("lost.1", "/lost", T0, InstanceState.RUNNING, "h", staged_at=T0))
        tx.put_value("counter", 2)
        tx.append_event("status_update_event", {"taskId": "lost.1"}, at=T0)
        raise Boom

    with store.transaction() as tx:
        assert [a.id for a in tx.list_apps()] == ["/kept"]
        assert tx.list_app_versions("/lost") == []
        assert tx.list_instances() == []
        assert tx.get_value("counter") == 1
        assert tx.list_events() == []


def test_writes_are_visible_inside_their_transaction(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_app(app("/web"))
        assert tx.get_app("/web") == app("/web")
        tx.delete_app("/web")
        assert tx.get_app("/web") is None


def test_a_failed_statement_leaves_the_store_usable(store: SqlStore) -> None:
    with pytest.raises(Boom), store.transaction() as tx:
        tx.put_value("a", 1)
        raise Boom

    with store.transaction() as tx:
        tx.put_value("a", 2)
    with store.transaction() as tx:
        assert tx.get_value("a") == 2


def test_transactions_on_many_threads_all_land(store: SqlStore) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for number in range(10):
                with store.transaction() as tx:
                    tx.put_app(app(f"/w{worker}/a{number}"))
                    tx.append_event("api_post_event", {"n": number}, at=T0)
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with store.transaction() as tx:
        assert len(tx.list_apps()) == 40
        assert len(tx.list_events()) == 40


def test_read_modify_write_from_many_threads_loses_no_update(sqlite_url: str) -> None:
    """SQLite transactions begin with the write lock held, so they run one after another."""
    store = SqlStore.open(sqlite_url)

    def increment() -> None:
        for _ in range(20):
            with store.transaction() as tx:
                value = tx.get_value("counter")
                assert isinstance(value, int)
                tx.put_value("counter", value + 1)

    with store.transaction() as tx:
        tx.put_value("counter", 0)
    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with store.transaction() as tx:
        assert tx.get_value("counter") == 80
    store.close()
