"""Versioned schema migrations: an ordered list of small functions, each run in its own
transaction together with the row that records it in `conveyor_schema`.

Opening a database applies the migrations it lacks, so an old data directory is upgraded in place;
a database whose version is newer than the last one here is refused (`SchemaTooNew`) rather than
read wrongly. Both SQLite and PostgreSQL run DDL inside transactions, so a migration that fails
leaves the database at the version before it. On PostgreSQL an advisory lock keeps two servers
that start together from migrating at once; on SQLite `BEGIN IMMEDIATE` does the same.

A migration describes its tables as they were when it was written (never by importing
`schema.py`, which moves on), in SQLAlchemy Core, which renders the DDL for both databases.
When a change needs what Core cannot render portably (SQLite table rebuilds), that is the time to
bring in Alembic's operations; the plain list is enough for creating tables and indexes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)

from conveyor.domain.clock import Clock
from conveyor.domain.errors import ConveyorError
from conveyor.store.schema import schema_versions

_MIGRATION_LOCK = 0x636F6E76  # any constant: the PostgreSQL advisory lock for migrations


class SchemaTooNew(ConveyorError):
    """The database was written by a newer Conveyor than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_initial_tables(connection: Connection) -> None:
    metadata = MetaData()
    Table(
        "conveyor_schema",
        metadata,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("description", Text, nullable=False),
        Column("applied_at", BigInteger, nullable=False),
    )
    Table(
        "apps",
        metadata,
        Column("id", Text, primary_key=True),
        Column("version", BigInteger, nullable=False),
        Column("digest", BigInteger, nullable=False),
        Column("document", Text, nullable=False),
    )
    Table(
        "app_versions",
        metadata,
        Column("app_id", Text, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
        Column("version", BigInteger, primary_key=True),
        Column("document", Text, nullable=False),
    )
    Table(
        "groups",
        metadata,
        Column("id", Text, primary_key=True),
        Column("document", Text, nullable=False),
    )
    Table(
        "deployments",
        metadata,
        Column("id", Text, primary_key=True),
        Column("created_at", BigInteger, nullable=False),
        Column("document", Text, nullable=False),
    )
    Table(
        "instances",
        metadata,
        Column("id", Text, primary_key=True),
        Column("app_id", Text, nullable=False),
        Column("staged_at", BigInteger, nullable=False),
        Column("digest", BigInteger, nullable=False),
        Column("document", Text, nullable=False),
        Index("ix_instances_staged", "staged_at", "id", "digest"),
        Index("ix_instances_app", "app_id", "staged_at", "id", "digest"),
    )
    Table(
        "events",
        metadata,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("type", Text, nullable=False),
        Column("at", BigInteger, nullable=False),
        Column("payload", Text, nullable=False),
        sqlite_autoincrement=True,
    )
    Table(
        "settings",
        metadata,
        Column("key", Text, primary_key=True),
        Column("value", Text, nullable=False),
    )
    metadata.create_all(connection, checkfirst=False)  # a clash with other tables is an error


def _create_launch_queue_tables(connection: Connection) -> None:
    metadata = MetaData()
    for name in ("launch_delays", "task_failures"):
        Table(
            name,
            metadata,
            Column("app_id", Text, primary_key=True),
            Column("document", Text, nullable=False),
        )
    metadata.create_all(connection, checkfirst=False)


def _create_pipeline_tables(connection: Connection) -> None:
    metadata = MetaData()
    Table(
        "pipelines",
        metadata,
        Column("name", Text, primary_key=True),
        Column("document", Text, nullable=False),
    )
    Table(
        "build_counters",
        metadata,
        Column("pipeline", Text, primary_key=True),
        Column("last_number", BigInteger, nullable=False),
    )
    builds = Table(
        "builds",
        metadata,
        Column(
            "pipeline", Text, ForeignKey("pipelines.name", ondelete="CASCADE"), primary_key=True
        ),
        Column("number", BigInteger, primary_key=True, autoincrement=False),
        Column("created_at", BigInteger, nullable=False),
        Column("ended_at", BigInteger),
        Column("document", Text, nullable=False),
        Index("ix_builds_ended", "pipeline", "ended_at"),
    )
    unfinished = builds.c.ended_at.is_(None)
    Index(
        "ix_builds_unfinished",
        builds.c.created_at,
        builds.c.pipeline,
        builds.c.number,
        sqlite_where=unfinished,
        postgresql_where=unfinished,
    )
    Table(
        "build_steps",
        metadata,
        Column("pipeline", Text, primary_key=True),
        Column("number", BigInteger, primary_key=True, autoincrement=False),
        Column("step_key", Text, primary_key=True),
        Column("document", Text, nullable=False),
        _of_build(),
    )
    Table(
        "step_output",
        metadata,
        Column("pipeline", Text, primary_key=True),
        Column("number", BigInteger, primary_key=True, autoincrement=False),
        Column("step_key", Text, primary_key=True),
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("at", BigInteger, nullable=False),
        Column("text", LargeBinary, nullable=False),
        _of_build(),
        sqlite_with_rowid=False,
    )
    metadata.create_all(connection, checkfirst=False)


def _create_deployment_outcomes(connection: Connection) -> None:
    """How ended deployments ended, in a table of their own (pruned by age) instead of one
    `settings` row each, kept forever; the rows already in `settings` move over, as ended now."""
    metadata = MetaData()
    outcomes = Table(
        "deployment_outcomes",
        metadata,
        Column("id", Text, primary_key=True),
        Column("status", Text, nullable=False),
        Column("ended_at", BigInteger, nullable=False),
        Index("ix_deployment_outcomes_ended", "ended_at"),
    )
    metadata.create_all(connection, checkfirst=False)
    settings = Table("settings", MetaData(), Column("key", Text), Column("value", Text))
    prefix = "deployment.outcome:"
    moved = settings.c.key.startswith(prefix, autoescape=True)
    now = int(time.time() * 1_000_000)
    rows = [
        {"id": key.removeprefix(prefix), "status": status, "ended_at": now}
        for key, value in connection.execute(select(settings.c.key, settings.c.value).where(moved))
        if isinstance(status := json.loads(value), str)
    ]
    if rows:
        connection.execute(outcomes.insert(), rows)
    connection.execute(settings.delete().where(moved))


def _of_build() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ("pipeline", "number"), ("builds.pipeline", "builds.number"), ondelete="CASCADE"
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "apps, versions, groups, deployments, instances, events", _create_initial_tables),
    Migration(2, "launch queue: launch delays and last task failures", _create_launch_queue_tables),
    Migration(3, "pipelines, builds, build steps and step output", _create_pipeline_tables),
    Migration(4, "deployment outcomes, out of settings", _create_deployment_outcomes),
)
LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(connection: Connection) -> int:
    """The version the database is at; 0 for an empty database."""
    if not inspect(connection).has_table(schema_versions.name):
        return 0
    version = connection.execute(select(func.max(schema_versions.c.version))).scalar_one()
    return int(version or 0)


def upgrade(engine: Engine, *, clock: Clock, target: int = LATEST_VERSION) -> int:
    """Apply every migration up to `target` that the database lacks; return its version."""
    version = _check_version(engine)
    for migration in MIGRATIONS:
        if version < migration.version <= target:
            version = _apply(engine, migration, clock=clock)
    return version


def _check_version(engine: Engine) -> int:
    with engine.connect() as connection:
        version = schema_version(connection)
    if version > LATEST_VERSION:
        location = engine.url.render_as_string(hide_password=True)
        raise SchemaTooNew(
            f"the database {location} has schema version {version}, newer than the "
            f"{LATEST_VERSION} this Conveyor knows: run a newer Conveyor against it"
        )
    return version


def _apply(engine: Engine, migration: Migration, *, clock: Clock) -> int:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        version = schema_version(connection)
        if version >= migration.version:
            return version  # another server got there first
        migration.apply(connection)
        connection.execute(
            schema_versions.insert().values(
                version=migration.version,
                description=migration.description,
                applied_at=clock.now(),
            )
        )
    return migration.version
