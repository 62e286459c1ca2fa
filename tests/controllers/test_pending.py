"""What a pass decides about a deployment reaches the store once, and only while the deployment
is still stored (`PendingWrites`), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.controllers.pending import Announcement, PendingWrites
from conveyor.domain.deployments import Deployment, DeploymentStatus
from conveyor.store.sql import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    store = SqlStore.open(store_url)
    yield store
    store.close()


def stored(store: SqlStore, deployment_id: str) -> Deployment:
    with store.transaction() as tx:
        tx.put_deployment(
            Deployment(
                id=deployment_id, version=T0, steps=(), original={}, target={}, created_at=T0
            )
        )
        found = tx.get_deployment(deployment_id)
    assert found is not None
    return found


def announced(step: int) -> Announcement:
    return Announcement("deployment_info", {"step": step}, T0 + timedelta(seconds=step))


def event_types_and_payloads(store: SqlStore) -> list[tuple[str, object]]:
    with store.transaction() as tx:
        return [(event.type, event.payload) for event in tx.list_events()]


def test_a_deployment_is_written_once_in_its_latest_state_after_its_events(
    store: SqlStore,
) -> None:
    deployment = stored(store, "d1")
    pending = PendingWrites()
    pending.change_deployment(replace(deployment, current_step=1), announced(1))
    pending.change_deployment(replace(deployment, current_step=2), announced(2), announced(3))

    pending.flush(store)

    with store.transaction() as tx:
        assert tx.get_deployment("d1") == replace(deployment, current_step=2)
    assert event_types_and_payloads(store) == [
        ("deployment_info", {"step": 1}),
        ("deployment_info", {"step": 2}),
        ("deployment_info", {"step": 3}),
    ]


def test_a_deployment_cancelled_meanwhile_does_not_come_back_nor_its_events(
    store: SqlStore,
) -> None:
    deployment = stored(store, "d1")
    pending = PendingWrites()
    pending.change_deployment(replace(deployment, current_step=1), announced(1))
    with store.transaction() as tx:  # the API cancels it before the pass stores its decisions
        tx.delete_deployment("d1")

    pending.flush(store)

    with store.transaction() as tx:
        assert tx.get_deployment("d1") is None
    assert event_types_and_payloads(store) == []


def test_an_ended_deployment_is_removed_and_its_outcome_kept(store: SqlStore) -> None:
    deployment = stored(store, "d1")
    pending = PendingWrites()
    pending.change_deployment(replace(deployment, current_step=1), announced(1))
    ended = Announcement("deployment_success", {"id": "d1"}, T0 + timedelta(seconds=5))
    pending.change_deployment(replace(deployment, status=DeploymentStatus.SUCCEEDED), ended)

    with store.transaction() as tx:
        pending.apply(tx)
        assert tx.get_deployment("d1") is None
        assert tx.get_deployment_outcome("d1") is DeploymentStatus.SUCCEEDED

    assert [event_type for event_type, _ in event_types_and_payloads(store)] == [
        "deployment_info",
        "deployment_success",
    ]
    pending.flush(store)  # nothing is left pending: no second outcome, no second event
    assert len(event_types_and_payloads(store)) == 2
