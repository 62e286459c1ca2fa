"""Pipelines: each reads back as registered; deleting one forgets everything it ran."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy.exc import IntegrityError

from conveyor.domain.builds import BuildStatus
from conveyor.domain.pipelines import PipelineDefinition, Retention
from conveyor.store.sql import SqlStore
from tests.store import strategies
from tests.store.build_samples import build, lines, pipeline, step, store_builds

store_examples = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@store_examples
@given(record=strategies.pipelines)
def test_a_pipeline_reads_back_with_every_field(
    store: SqlStore, record: PipelineDefinition
) -> None:
    with store.transaction() as tx:
        tx.put_pipeline(record)

    with store.transaction() as tx:
        assert tx.get_pipeline(record.name) == record
        assert record in tx.list_pipelines()


def test_an_unknown_pipeline_is_none(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.get_pipeline("nope") is None
        assert tx.list_pipelines() == []


def test_pipelines_are_listed_by_name(store: SqlStore) -> None:
    with store.transaction() as tx:
        for name in ("web", "api", "worker", "api-2"):
            tx.put_pipeline(pipeline(name))

    with store.transaction() as tx:
        assert [p.name for p in tx.list_pipelines()] == ["api", "api-2", "web", "worker"]


def test_putting_a_pipeline_again_replaces_its_definition(store: SqlStore) -> None:
    changed = replace(pipeline("web"), branch="release", retention=Retention(keep_days=30))
    with store.transaction() as tx:
        tx.put_pipeline(pipeline("web"))
    with store.transaction() as tx:
        tx.put_pipeline(changed)

    with store.transaction() as tx:
        assert tx.get_pipeline("web") == changed
        assert tx.list_pipelines() == [changed]


def test_deleting_a_pipeline_forgets_its_builds_steps_and_output(store: SqlStore) -> None:
    store_builds(store, build(1), build(2), build(1, pipeline="api"))
    with store.transaction() as tx:
        for name in ("web", "api"):
            tx.put_step(step((1,), pipeline=name))
            tx.append_output(name, 1, (1,), lines(1, 3))

    with store.transaction() as tx:
        tx.delete_pipeline("web")

    with store.transaction() as tx:
        assert tx.get_pipeline("web") is None
        assert tx.list_builds("web") == []
        assert tx.get_build("web", 1) is None
        assert tx.list_steps("web", 1) == []
        assert tx.list_output("web", 1, (1,)) == []
        assert tx.list_builds("api") == [build(1, pipeline="api")]
        assert tx.list_steps("api", 1) == [step((1,), pipeline="api")]
        assert tx.list_output("api", 1, (1,)) == lines(1, 3)


def test_a_pipeline_registered_again_starts_with_no_builds(store: SqlStore) -> None:
    store_builds(store, build(1, status=BuildStatus.RUNNING))
    with store.transaction() as tx:
        tx.delete_pipeline("web")
        tx.put_pipeline(pipeline("web"))

    with store.transaction() as tx:
        assert tx.list_builds("web") == []
        assert tx.list_unfinished_builds() == []


def test_deleting_an_unknown_pipeline_changes_nothing(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.delete_pipeline("nope")

    with store.transaction() as tx:
        assert tx.list_builds("web") == [build(1)]


def test_a_build_of_an_unregistered_pipeline_is_refused(store: SqlStore) -> None:
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.put_build(build(1, pipeline="ghost"))

    with store.transaction() as tx:
        assert tx.get_build("ghost", 1) is None
