"""The tables, as the latest migration leaves them (`migrations.py` builds them; a test checks that
both agree).

Each domain record is one row: the columns the store filters or orders by, and the whole record
as a JSON `document` in the store's private format (`codecs.py`). Apps and instances also carry
the `digest` of their document, so that a listing can read (id, digest) pairs from a covering
index and decode only the documents that changed since it last saw them.

Times the store orders by are integer microseconds since the Unix epoch (UTC), the same sortable,
exact value on SQLite and PostgreSQL; `Timestamp` turns them back into aware datetimes.

Pipelines own their builds, builds their steps and output (ON DELETE CASCADE). Build numbers come
from `build_counters`, which is keyed by pipeline name but not tied to the pipeline's row, so a
number is never handed out twice, whatever was pruned or deleted. A step is keyed by `step_key`
(see `step_key`): text that sorts as its `StepId` does. Step output is one row per line, kept in
(pipeline, number, step_key, seq) order; on SQLite without a rowid, so each line is stored once, in
the order it is read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
)

from conveyor.domain.builds import StepId

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_microseconds(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // _MICROSECOND


def from_microseconds(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class Timestamp(TypeDecorator[datetime]):
    """An aware datetime stored as microseconds since the epoch (BIGINT)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_microseconds(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_microseconds(value)


STEP_KEY_DIGITS = 6
_STEP_KEY_LIMIT = 10**STEP_KEY_DIGITS


def step_key(step: StepId) -> str:
    """`(2, 1)` → `"000002.000001"`: each part zero-padded to the same width, so that text order
    is step order — `(2,)` before `(2, 1)` before `(10,)` — in any collation (the separators sit
    at the same places, and digits sort by value everywhere)."""
    if not step or not all(0 < part < _STEP_KEY_LIMIT for part in step):
        raise ValueError(f"step ids are parts from 1 to {_STEP_KEY_LIMIT - 1}, not {step!r}")
    return ".".join(f"{part:0{STEP_KEY_DIGITS}d}" for part in step)


class Utf8Bytes(TypeDecorator[str]):
    """Text stored as its UTF-8 bytes (BLOB, BYTEA): step output may hold NUL characters, which
    PostgreSQL text refuses, and lone surrogates, which no database's text takes. Both read back
    as they were written."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else to_utf8(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else from_utf8(value)


def to_utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def from_utf8(data: bytes) -> str:
    return bytes(data).decode("utf-8", "surrogatepass")


metadata = MetaData()

schema_versions = Table(
    "conveyor_schema",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", Timestamp, nullable=False),
)

apps = Table(
    "apps",
    metadata,
    Column("id", Text, primary_key=True),
    Column("version", Timestamp, nullable=False),
    Column("digest", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
)

app_versions = Table(
    "app_versions",
    metadata,
    Column("app_id", Text, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Timestamp, primary_key=True),
    Column("document", Text, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Text, primary_key=True),
    Column("document", Text, nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("created_at", Timestamp, nullable=False),
    Column("document", Text, nullable=False),
)

instances = Table(
    "instances",
    metadata,
    Column("id", Text, primary_key=True),
    Column("app_id", Text, nullable=False),
    Column("staged_at", Timestamp, nullable=False),
    Column("digest", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_instances_staged", "staged_at", "id", "digest"),
    Index("ix_instances_app", "app_id", "staged_at", "id", "digest"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("type", Text, nullable=False),
    Column("at", Timestamp, nullable=False),
    Column("payload", Text, nullable=False),
    sqlite_autoincrement=True,
)

settings = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

deployment_outcomes = Table(
    "deployment_outcomes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("ended_at", Timestamp, nullable=False),
    Index("ix_deployment_outcomes_ended", "ended_at"),
)

launch_delays = Table(
    "launch_delays",
    metadata,
    Column("app_id", Text, primary_key=True),
    Column("document", Text, nullable=False),
)

task_failures = Table(
    "task_failures",
    metadata,
    Column("app_id", Text, primary_key=True),
    Column("document", Text, nullable=False),
)

pipelines = Table(
    "pipelines",
    metadata,
    Column("name", Text, primary_key=True),
    Column("document", Text, nullable=False),
)

build_counters = Table(
    "build_counters",
    metadata,
    Column("pipeline", Text, primary_key=True),
    Column("last_number", BigInteger, nullable=False),
)

builds = Table(
    "builds",
    metadata,
    Column("pipeline", Text, ForeignKey("pipelines.name", ondelete="CASCADE"), primary_key=True),
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", Timestamp, nullable=False),
    # When a finished build ended (its finished_at, else its created_at); NULL while it is
    # queued, running or waiting: what listing unfinished builds and pruning old ones look at.
    Column("ended_at", Timestamp),
    Column("document", Text, nullable=False),
    Index("ix_builds_ended", "pipeline", "ended_at"),
)
_UNFINISHED = builds.c.ended_at.is_(None)
Index(
    "ix_builds_unfinished",
    builds.c.created_at,
    builds.c.pipeline,
    builds.c.number,
    sqlite_where=_UNFINISHED,
    postgresql_where=_UNFINISHED,
)

_BUILD = ("pipeline", "number")
_BUILD_COLUMNS = ("builds.pipeline", "builds.number")

build_steps = Table(
    "build_steps",
    metadata,
    Column("pipeline", Text, primary_key=True),
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("step_key", Text, primary_key=True),
    Column("document", Text, nullable=False),
    ForeignKeyConstraint(_BUILD, _BUILD_COLUMNS, ondelete="CASCADE"),
)

step_output = Table(
    "step_output",
    metadata,
    Column("pipeline", Text, primary_key=True),
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("step_key", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", Timestamp, nullable=False),
    Column("text", Utf8Bytes, nullable=False),
    ForeignKeyConstraint(_BUILD, _BUILD_COLUMNS, ondelete="CASCADE"),
    sqlite_with_rowid=False,
)
