"""Migrations: a new database gets the latest schema, an old one is upgraded in place, a newer
one is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, inspect, select, text

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.clock import SystemClock
from conveyor.domain.deployments import DeploymentStatus
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.store import migrations, schema
from conveyor.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    SchemaTooNew,
    schema_version,
    upgrade,
)
from conveyor.store.sql import SqlStore, open_engine

T0 = datetime(2024, 1, 1, tzinfo=UTC)
APP = AppDefinition(id="/web", version=T0, version_info=VersionInfo(T0, T0), cmd="serve")


def shape_of(engine: Engine) -> dict[str, object]:
    """Tables, columns (name, type, nullable), primary keys, foreign keys (with their ON DELETE)
    and indexes."""
    inspector = inspect(engine)
    shape: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": [
                (column["name"], str(column["type"]), column["nullable"])
                for column in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    fk["constrained_columns"],
                    fk["referred_table"],
                    fk["referred_columns"],
                    fk["options"].get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (index["name"], tuple(index["column_names"]))
                for index in inspector.get_indexes(table)
            ),
        }
    return shape


def test_migrations_are_numbered_one_by_one() -> None:
    assert [migration.version for migration in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


def declared_shape(engine: Engine) -> dict[str, object]:
    """What `schema.metadata` declares, in the terms `shape_of` reads from a database."""
    shape: dict[str, object] = {}
    for name, table in sorted(schema.metadata.tables.items()):
        shape[name] = {
            "columns": [
                (column.name, column.type.compile(dialect=engine.dialect), column.nullable)
                for column in table.columns
            ],
            "primary_key": [column.name for column in table.primary_key.columns],
            "foreign_keys": sorted(
                (
                    [element.parent.name for element in constraint.elements],
                    constraint.referred_table.name,
                    [element.column.name for element in constraint.elements],
                    constraint.ondelete,
                )
                for constraint in table.foreign_key_constraints
            ),
            "indexes": sorted(
                (index.name, tuple(column.name for column in index.columns))
                for index in table.indexes
            ),
        }
    return shape


def test_a_new_database_is_migrated_to_the_schema_the_store_uses(store_url: str) -> None:
    engine = open_engine(store_url)
    try:
        assert upgrade(engine, clock=SystemClock()) == LATEST_VERSION
        assert shape_of(engine) == declared_shape(engine)
    finally:
        engine.dispose()


def test_a_database_at_version_one_is_upgraded_and_keeps_its_data(store_url: str) -> None:
    engine = open_engine(store_url)
    assert upgrade(engine, clock=SystemClock(), target=1) == 1
    old = SqlStore(engine)
    with old.transaction() as tx:
        tx.put_app(APP)
        tx.put_value("leader", "me")
    old.close()

    store = SqlStore.open(store_url)
    try:
        with store.transaction() as tx:
            assert tx.get_app("/web") == APP
            assert tx.get_value("leader") == "me"
            tx.put_launch_delay(LaunchDelay("/web", 1, 1.0, T0, T0, T0))
        with store.engine.connect() as connection:
            assert schema_version(connection) == LATEST_VERSION
            applied = connection.execute(select(schema.schema_versions.c.version)).scalars()
            assert sorted(applied) == list(range(1, LATEST_VERSION + 1))
    finally:
        store.close()


def test_a_database_at_version_two_is_upgraded_and_keeps_its_data(store_url: str) -> None:
    delay = LaunchDelay("/web", 1, 1.0, T0, T0, T0)
    engine = open_engine(store_url)
    assert upgrade(engine, clock=SystemClock(), target=2) == 2
    old = SqlStore(engine)
    with old.transaction() as tx:
        tx.put_app(APP)
        tx.put_launch_delay(delay)
        tx.append_event("api_post_event", {"appId": "/web"}, at=T0)
    old.close()

    store = SqlStore.open(store_url)
    try:
        with store.transaction() as tx:
            assert tx.get_app("/web") == APP
            assert tx.get_launch_delay("/web") == delay
            assert [event.type for event in tx.list_events()] == ["api_post_event"]
            tx.put_pipeline(PipelineDefinition("web", "https://git.example.org/web.git"))
            assert tx.next_build_number("web") == 1
        with store.engine.connect() as connection:
            assert schema_version(connection) == LATEST_VERSION
    finally:
        store.close()


def test_at_version_four_deployment_outcomes_move_out_of_settings(store_url: str) -> None:
    engine = open_engine(store_url)
    assert upgrade(engine, clock=SystemClock(), target=3) == 3
    old = SqlStore(engine)
    with old.transaction() as tx:
        tx.put_value("deployment.outcome:d-1", "succeeded")
        tx.put_value("deployment.outcome:d_2", "canceled")
        tx.put_value("leader", "me")
    old.close()

    store = SqlStore.open(store_url)
    try:
        with store.transaction() as tx:
            assert tx.get_deployment_outcome("d-1") is DeploymentStatus.SUCCEEDED
            assert tx.get_deployment_outcome("d_2") is DeploymentStatus.CANCELED
            assert tx.get_value("deployment.outcome:d-1") is None
            assert tx.get_value("leader") == "me"
    finally:
        store.close()


def test_reopening_a_current_database_changes_nothing(store_url: str) -> None:
    SqlStore.open(store_url).close()
    store = SqlStore.open(store_url)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(select(schema.schema_versions)).all()
        assert [row.version for row in rows] == list(range(1, LATEST_VERSION + 1))
    finally:
        store.close()


def test_a_database_from_a_newer_conveyor_is_refused(store_url: str) -> None:
    SqlStore.open(store_url).close()
    engine = open_engine(store_url)
    with engine.begin() as connection:
        connection.execute(
            schema.schema_versions.insert().values(
                version=LATEST_VERSION + 1, description="from the future", applied_at=T0
            )
        )
    engine.dispose()

    with pytest.raises(SchemaTooNew, match=f"version {LATEST_VERSION + 1}, newer than"):
        SqlStore.open(store_url)


def test_a_migration_that_fails_leaves_the_database_at_the_version_before(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("migration broke halfway")

    broken = Migration(LATEST_VERSION + 1, "breaks halfway", half_done)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, broken))
    engine = open_engine(store_url)
    try:
        with pytest.raises(RuntimeError, match="halfway"):
            upgrade(engine, clock=SystemClock(), target=LATEST_VERSION + 1)

        with engine.connect() as connection:
            assert schema_version(connection) == LATEST_VERSION
        assert "half_done" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
