"""The tables, as the latest migration leaves them (`migrations.py` builds them; a test checks that
both agree).

Each domain record is one row: the columns the store filters or orders by, and the whole record
as a JSON `document` in the store's private format (`codecs.py`). Apps and instances also carry
the `digest` of their document, so that a listing can read (id, digest) pairs from a covering
index and decode only the documents that changed since it last saw them.

Times the store orders by are integer microseconds since the Unix epoch (UTC), the same sortable,
exact value on SQLite and PostgreSQL; `Timestamp` turns them back into aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
)

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
