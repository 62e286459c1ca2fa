"""Apps: the current definition of each app and its version history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.instances import Instance, InstanceState, TaskFailure
from conveyor.store.protocol import MAX_APP_VERSIONS
from conveyor.store.sql import SqlStore
from tests.store import strategies

T0 = datetime(2024, 1, 1, tzinfo=UTC)
store_examples = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def app_at(app_id: str, version: datetime, **changes: object) -> AppDefinition:
    info = VersionInfo(last_scaling_at=version, last_config_change_at=version)
    return replace(AppDefinition(id=app_id, version=version, version_info=info), **changes)


@store_examples
@given(app=strategies.apps)
def test_an_app_reads_back_with_every_field(store: SqlStore, app: AppDefinition) -> None:
    with store.transaction() as tx:
        tx.put_app(app)

    with store.transaction() as tx:
        assert tx.get_app(app.id) == app
        assert tx.get_app_version(app.id, app.version) == app
        assert app in tx.list_apps()


def test_an_unknown_app_is_none(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.get_app("/nope") is None
        assert tx.get_app_version("/nope", T0) is None
        assert tx.list_app_versions("/nope") == []


def test_apps_are_listed_by_id(store: SqlStore) -> None:
    with store.transaction() as tx:
        for app_id in ("/b", "/a/z", "/c", "/a"):
            tx.put_app(app_at(app_id, T0))

    with store.transaction() as tx:
        assert [app.id for app in tx.list_apps()] == ["/a", "/a/z", "/b", "/c"]


def test_putting_a_new_version_makes_it_current_and_keeps_the_old_one(store: SqlStore) -> None:
    first = app_at("/web", T0, cmd="v1")
    second = app_at("/web", T0 + timedelta(minutes=1), cmd="v2")
    with store.transaction() as tx:
        tx.put_app(first)
    with store.transaction() as tx:
        tx.put_app(second)

    with store.transaction() as tx:
        assert tx.get_app("/web") == second
        assert tx.list_apps() == [second]
        assert tx.list_app_versions("/web") == [second.version, first.version]
        assert tx.get_app_version("/web", first.version) == first


def test_a_version_is_found_whatever_the_offset_it_is_asked_with(store: SqlStore) -> None:
    app = app_at("/web", T0)
    with store.transaction() as tx:
        tx.put_app(app)

    elsewhere = T0.astimezone(timezone(timedelta(hours=-7)))
    with store.transaction() as tx:
        assert tx.get_app_version("/web", elsewhere) == app


def test_putting_the_same_version_again_records_it_once(store: SqlStore) -> None:
    app = app_at("/web", T0, cmd="sleep 1")
    with store.transaction() as tx:
        tx.put_app(app)
        tx.put_app(app)
    with store.transaction() as tx:
        tx.put_app(replace(app, cmd="sleep 2"))

    with store.transaction() as tx:
        assert tx.list_app_versions("/web") == [T0]
        assert tx.get_app_version("/web", T0) == replace(app, cmd="sleep 2")


def test_only_the_newest_versions_are_kept(store: SqlStore) -> None:
    versions = [T0 + timedelta(seconds=second) for second in range(MAX_APP_VERSIONS + 5)]
    for version in versions:
        with store.transaction() as tx:
            tx.put_app(app_at("/web", version))

    with store.transaction() as tx:
        kept = tx.list_app_versions("/web")
        assert kept == sorted(versions, reverse=True)[:MAX_APP_VERSIONS]
        assert tx.get_app_version("/web", versions[0]) is None
        assert tx.get_app_version("/web", versions[5]) is not None


def test_pruning_versions_of_one_app_leaves_other_apps_alone(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_app(app_at("/other", T0))
        for second in range(MAX_APP_VERSIONS + 1):
            tx.put_app(app_at("/web", T0 + timedelta(seconds=second)))

    with store.transaction() as tx:
        assert tx.list_app_versions("/other") == [T0]
        assert len(tx.list_app_versions("/web")) == MAX_APP_VERSIONS


def test_deleting_an_app_forgets_versions_delay_and_failure_but_not_instances(
    store: SqlStore,
) -> None:
    instance = Instance(
        id="web.1", app_id="/web", version=T0, state=InstanceState.RUNNING, host="h", staged_at=T0
    )
    with store.transaction() as tx:
        tx.put_app(app_at("/web", T0))
        tx.put_app(app_at("/web", T0 + timedelta(seconds=1)))
        tx.put_app(app_at("/keep", T0))
        tx.put_launch_delay(LaunchDelay("/web", 1, 1.0, T0, T0, T0))
        tx.put_task_failure(TaskFailure("/web", "web.0", InstanceState.FAILED, "boom", "h", T0, T0))
        tx.put_instance(instance)

    with store.transaction() as tx:
        tx.delete_app("/web")

    with store.transaction() as tx:
        assert tx.get_app("/web") is None
        assert tx.list_app_versions("/web") == []
        assert tx.get_app_version("/web", T0) is None
        assert tx.get_launch_delay("/web") is None
        assert tx.get_task_failure("/web") is None
        assert tx.get_instance("web.1") == instance
        assert [app.id for app in tx.list_apps()] == ["/keep"]


def test_an_app_changed_by_another_store_reads_back_changed(
    store: SqlStore, store_url: str
) -> None:
    other = SqlStore.open(store_url)
    try:
        with store.transaction() as tx:
            tx.put_app(app_at("/web", T0, cmd="old"))
            assert tx.list_apps()[0].cmd == "old"
        with other.transaction() as tx:
            tx.put_app(app_at("/web", T0, cmd="new"))

        with store.transaction() as tx:
            assert tx.list_apps()[0].cmd == "new"
            assert tx.get_app("/web") == app_at("/web", T0, cmd="new")
    finally:
        other.close()
