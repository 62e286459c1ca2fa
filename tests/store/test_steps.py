"""Steps: each reads back as recorded, and a build's steps are listed in step order."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.domain.builds import StepId, StepRecord, StepStatus
from conveyor.store.schema import step_key
from conveyor.store.sql import SqlStore
from tests.store import strategies
from tests.store.build_samples import build, pipeline, step, store_builds

store_examples = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@store_examples
@given(record=strategies.steps)
def test_a_step_reads_back_with_every_field(store: SqlStore, record: StepRecord) -> None:
    with store.transaction() as tx:
        tx.delete_pipeline(record.pipeline)  # what earlier examples stored
        tx.put_pipeline(pipeline(record.pipeline))
        tx.put_build(build(record.build, pipeline=record.pipeline, created=0))
        tx.put_step(record)

    with store.transaction() as tx:
        assert tx.get_step(record.pipeline, record.build, record.step) == record
        assert tx.list_steps(record.pipeline, record.build) == [record]


def test_steps_are_listed_in_step_order(store: SqlStore) -> None:
    ids = [(10,), (2, 1), (9,), (2,), (1,), (2, 10), (2, 9), (2, 1, 1), (3,), (100,)]
    store_builds(store, build(1))
    with store.transaction() as tx:
        for step_id in ids:
            tx.put_step(step(step_id))

    with store.transaction() as tx:
        assert [record.step for record in tx.list_steps("web", 1)] == [
            (1,),
            (2,),
            (2, 1),
            (2, 1, 1),
            (2, 9),
            (2, 10),
            (3,),
            (9,),
            (10,),
            (100,),
        ]


@store_examples
@given(ids=st.sets(strategies.step_ids, max_size=12))
def test_any_steps_are_listed_as_their_ids_sort(store: SqlStore, ids: set[StepId]) -> None:
    with store.transaction() as tx:
        tx.delete_pipeline("web")  # what earlier examples stored
        tx.put_pipeline(pipeline("web"))
        tx.put_build(build(1))
        for step_id in ids:
            tx.put_step(step(step_id))

    with store.transaction() as tx:
        assert [record.step for record in tx.list_steps("web", 1)] == sorted(ids)


@given(first=strategies.step_ids, second=strategies.step_ids)
def test_step_keys_sort_as_step_ids_do(first: StepId, second: StepId) -> None:
    assert (step_key(first) < step_key(second)) == (first < second)


@pytest.mark.parametrize("step_id", [(), (0,), (1, 0), (1_000_000,), (-1,)])
def test_a_step_id_the_store_cannot_order_is_refused(store: SqlStore, step_id: StepId) -> None:
    store_builds(store, build(1))
    with pytest.raises(ValueError, match="step ids"), store.transaction() as tx:
        tx.put_step(step(step_id))


def test_putting_a_step_again_replaces_it(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.put_step(replace(step((1,)), status=StepStatus.RUNNING))
    with store.transaction() as tx:
        tx.put_step(replace(step((1,)), message="done"))

    with store.transaction() as tx:
        assert tx.list_steps("web", 1) == [replace(step((1,)), message="done")]


def test_steps_of_other_builds_are_not_listed(store: SqlStore) -> None:
    store_builds(store, build(1), build(2), build(1, pipeline="api"))
    with store.transaction() as tx:
        tx.put_step(step((1,), number=1))
        tx.put_step(step((2,), number=2))
        tx.put_step(step((3,), pipeline="api"))

    with store.transaction() as tx:
        assert tx.list_steps("web", 1) == [step((1,), number=1)]
        assert tx.get_step("web", 1, (2,)) is None
        assert tx.get_step("web", 3, (1,)) is None
        assert tx.list_steps("web", 3) == []
