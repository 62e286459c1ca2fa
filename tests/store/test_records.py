"""Groups, deployments, instances, the launch queue and settings: each reads back as written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.deployments import Deployment, DeploymentStatus
from conveyor.domain.documents import JsonValue
from conveyor.domain.groups import Group
from conveyor.domain.instances import Instance, InstanceState, TaskFailure
from conveyor.store.protocol import OUTCOMES_KEPT_FOR
from conveyor.store.sql import SqlStore
from tests.store import strategies

T0 = datetime(2024, 1, 1, tzinfo=UTC)
store_examples = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def instance(instance_id: str, app_id: str = "/web", staged: int = 0) -> Instance:
    return Instance(
        id=instance_id,
        app_id=app_id,
        version=T0,
        state=InstanceState.RUNNING,
        host="127.0.0.1",
        staged_at=T0 + timedelta(seconds=staged),
    )


def deployment(deployment_id: str, created: int) -> Deployment:
    return Deployment(
        id=deployment_id,
        version=T0,
        steps=(),
        original={},
        target={},
        created_at=T0 + timedelta(seconds=created),
    )


# groups


@store_examples
@given(group=strategies.groups)
def test_a_group_reads_back_with_every_field(store: SqlStore, group: Group) -> None:
    with store.transaction() as tx:
        tx.put_group(group)

    with store.transaction() as tx:
        assert group in tx.list_groups()


def test_groups_are_listed_by_id_and_can_be_deleted(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_group(Group("/b", T0))
        tx.put_group(Group("/a", T0, dependencies=("/b",)))
        tx.put_group(Group("/c", T0))
        tx.delete_group("/c")

    with store.transaction() as tx:
        assert tx.list_groups() == [Group("/a", T0, dependencies=("/b",)), Group("/b", T0)]


# deployments


@store_examples
@given(record=strategies.deployments)
def test_a_deployment_reads_back_with_every_field(store: SqlStore, record: Deployment) -> None:
    with store.transaction() as tx:
        tx.put_deployment(record)

    with store.transaction() as tx:
        assert tx.get_deployment(record.id) == record


def test_deployments_are_listed_oldest_first(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_deployment(deployment("late", created=20))
        tx.put_deployment(deployment("b-early", created=10))
        tx.put_deployment(deployment("a-early", created=10))

    with store.transaction() as tx:
        assert [d.id for d in tx.list_deployments()] == ["a-early", "b-early", "late"]


def test_a_deployment_can_be_updated_and_deleted(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_deployment(deployment("d1", created=0))
        tx.put_deployment(deployment("d2", created=1))
    with store.transaction() as tx:
        tx.put_deployment(replace(deployment("d1", 0), status=DeploymentStatus.SUCCEEDED))
        tx.delete_deployment("d2")

    with store.transaction() as tx:
        assert tx.get_deployment("d2") is None
        assert tx.list_deployments() == [
            replace(deployment("d1", 0), status=DeploymentStatus.SUCCEEDED)
        ]


def test_only_a_stored_deployment_is_updated_or_deleted(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_deployment(deployment("kept", created=0))
    advanced = replace(deployment("kept", 0), current_step=1)
    with store.transaction() as tx:
        assert tx.update_deployment(advanced)
        assert not tx.update_deployment(deployment("gone", created=1))
        assert not tx.delete_deployment("gone")

    with store.transaction() as tx:
        assert tx.list_deployments() == [advanced]
        assert tx.delete_deployment("kept")
        assert tx.list_deployments() == []


def test_outcomes_are_kept_a_week_after_they_were_recorded(store: SqlStore) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as tx:
        tx.put_deployment_outcome("old", DeploymentStatus.SUCCEEDED, at=start)
        tx.put_deployment_outcome("recent", DeploymentStatus.CANCELED, at=start + timedelta(days=2))
        assert tx.get_deployment_outcome("old") is DeploymentStatus.SUCCEEDED

    with store.transaction() as tx:
        later = start + OUTCOMES_KEPT_FOR + timedelta(seconds=1)
        tx.put_deployment_outcome("new", DeploymentStatus.SUCCEEDED, at=later)

    with store.transaction() as tx:
        assert tx.get_deployment_outcome("old") is None
        assert tx.get_deployment_outcome("recent") is DeploymentStatus.CANCELED
        assert tx.get_deployment_outcome("new") is DeploymentStatus.SUCCEEDED
        assert tx.get_deployment_outcome("never") is None


# instances


@store_examples
@given(record=strategies.instances)
def test_an_instance_reads_back_with_every_field(store: SqlStore, record: Instance) -> None:
    with store.transaction() as tx:
        tx.put_instance(record)

    with store.transaction() as tx:
        assert tx.get_instance(record.id) == record
        assert record in tx.list_instances(record.app_id)
        assert record in tx.list_instances()


def test_instances_are_listed_by_staged_time_then_id(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_instance(instance("web.c", staged=0))
        tx.put_instance(instance("api.a", app_id="/api", staged=5))
        tx.put_instance(instance("web.b", staged=5))
        tx.put_instance(instance("web.a", staged=9))

    with store.transaction() as tx:
        assert [i.id for i in tx.list_instances()] == ["web.c", "api.a", "web.b", "web.a"]
        assert [i.id for i in tx.list_instances("/web")] == ["web.c", "web.b", "web.a"]
        assert tx.list_instances("/none") == []


def test_an_instance_can_be_updated_and_deleted(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_instance(instance("web.1"))
        tx.put_instance(instance("web.2"))
        assert len(tx.list_instances()) == 2
    with store.transaction() as tx:
        tx.put_instance(replace(instance("web.1"), state=InstanceState.KILLED, exit_code=137))
        tx.delete_instance("web.2")

    with store.transaction() as tx:
        assert tx.get_instance("web.2") is None
        assert tx.list_instances() == [
            replace(instance("web.1"), state=InstanceState.KILLED, exit_code=137)
        ]


def test_an_instance_moved_to_another_staged_time_is_listed_there(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_instance(instance("web.1", staged=0))
        tx.put_instance(instance("web.2", staged=5))
    with store.transaction() as tx:
        tx.put_instance(instance("web.1", staged=9))

    with store.transaction() as tx:
        assert [i.id for i in tx.list_instances()] == ["web.2", "web.1"]


# launch queue


@store_examples
@given(delay=strategies.launch_delays, failure=strategies.task_failures)
def test_launch_delays_and_failures_read_back_with_every_field(
    store: SqlStore, delay: LaunchDelay, failure: TaskFailure
) -> None:
    with store.transaction() as tx:
        tx.put_launch_delay(delay)
        tx.put_task_failure(failure)

    with store.transaction() as tx:
        assert tx.get_launch_delay(delay.app_id) == delay
        assert delay in tx.list_launch_delays()
        assert tx.get_task_failure(failure.app_id) == failure


def test_launch_delays_are_listed_by_app_and_can_be_deleted(store: SqlStore) -> None:
    with store.transaction() as tx:
        for app_id in ("/b", "/a", "/c"):
            tx.put_launch_delay(LaunchDelay(app_id, 1, 2.0, T0, T0, T0))
        tx.delete_launch_delay("/c")

    with store.transaction() as tx:
        assert [delay.app_id for delay in tx.list_launch_delays()] == ["/a", "/b"]
        assert tx.get_launch_delay("/c") is None


def test_the_last_task_failure_replaces_the_one_before(store: SqlStore) -> None:
    first = TaskFailure("/web", "web.1", InstanceState.FAILED, "exit 1", "h", T0, T0)
    second = replace(first, task_id="web.2", state=InstanceState.LOST)
    with store.transaction() as tx:
        tx.put_task_failure(first)
    with store.transaction() as tx:
        tx.put_task_failure(second)

    with store.transaction() as tx:
        assert tx.get_task_failure("/web") == second
        assert tx.get_task_failure("/other") is None


# settings


@store_examples
@given(key=strategies.names, value=strategies.json_values)
def test_a_value_reads_back_as_written(store: SqlStore, key: str, value: JsonValue) -> None:
    with store.transaction() as tx:
        tx.put_value(key, value)

    with store.transaction() as tx:
        assert tx.get_value(key) == value


@pytest.mark.parametrize("value", [1, "leader-a", {"term": 3}, [1, 2]])
def test_a_value_is_replaced_and_a_missing_one_is_none(store: SqlStore, value: JsonValue) -> None:
    with store.transaction() as tx:
        assert tx.get_value("leader") is None
        tx.put_value("leader", "someone")
        tx.put_value("leader", value)

    with store.transaction() as tx:
        assert tx.get_value("leader") == value


def test_values_are_forgotten_by_key_and_by_prefix(store: SqlStore) -> None:
    keys = ["build.commands:web:1", "build.commands:web:2", "build.commands:web_x:1", "leader"]
    keys += ["build.commands:we%:1", "queue.unplaced:/web"]
    with store.transaction() as tx:
        for key in keys:
            tx.put_value(key, 1)

    with store.transaction() as tx:
        tx.delete_values("queue.unplaced:/web", "no-such-key", prefix="build.commands:web:")
        tx.delete_values(prefix="build.commands:we%")  # a wildcard in SQL, not here

    with store.transaction() as tx:
        left = [key for key in keys if tx.get_value(key) is not None]
    assert left == ["build.commands:web_x:1", "leader"]
