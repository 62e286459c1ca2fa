"""`SqlStore`: the Store port on SQLAlchemy Core, over a SQLite file or PostgreSQL.

    store = SqlStore.open("sqlite:////var/lib/conveyor/conveyor.db")
    store = SqlStore.open("postgresql://conveyor@db.example.org/conveyor")

Opening applies the schema migrations the database lacks (`migrations.py`).

SQLite runs in WAL mode with `synchronous=NORMAL`, foreign keys on and a busy timeout, from a pool
of connections that any thread may use. Each transaction starts with `BEGIN IMMEDIATE`: SQLite has
one writer at a time, and taking the write lock up front means a transaction that reads and then
writes waits its turn instead of failing halfway with "database is locked". Readers in other
processes are not blocked (WAL).

PostgreSQL is reached through psycopg 3; a `postgresql://` URL is read as `postgresql+psycopg://`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError

from conveyor.domain.clock import Clock, SystemClock
from conveyor.domain.errors import Unavailable
from conveyor.store.migrations import upgrade
from conveyor.store.protocol import Store
from conveyor.store.subscriptions import (
    DEFAULT_MAX_BUFFERED_EVENTS,
    EventSubscription,
    Subscriptions,
)
from conveyor.store.transactions import DecodedRecords, SqlTransaction

DEFAULT_KEEP_EVENTS = 10_000
SQLITE_BUSY_TIMEOUT_MS = 10_000
_SYSTEM_CLOCK = SystemClock()


class SqlStore(Store):
    """The store of one Conveyor server. Safe to use from several threads at once."""

    def __init__(
        self,
        engine: Engine,
        *,
        keep_events: int = DEFAULT_KEEP_EVENTS,
        max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS,
    ) -> None:
        """Wrap an engine whose schema is already current; `open` is the usual way in."""
        self._engine = engine
        self._keep_events = keep_events
        self._decoded = DecodedRecords()
        self._subscriptions = Subscriptions(max_buffered_events=max_buffered_events)
        self._publishing = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Clock = _SYSTEM_CLOCK,
        keep_events: int = DEFAULT_KEEP_EVENTS,
        max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS,
    ) -> SqlStore:
        """Connect to `url`, upgrade its schema to the latest version, and return the store.

        `keep_events` bounds the events table (older ids are pruned as new ones are appended);
        `max_buffered_events` bounds what one subscriber may fall behind before it is dropped.
        """
        engine = open_engine(url)
        try:
            with _unavailable_on_connection_errors(engine):
                upgrade(engine, clock=clock)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, keep_events=keep_events, max_buffered_events=max_buffered_events)

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Commit on normal exit, roll back on an exception (then re-raised). A database that
        cannot be reached, or stays locked past the busy timeout, raises `Unavailable`."""
        with _unavailable_on_connection_errors(self._engine), self._engine.connect() as connection:
            connection.begin()
            transaction = SqlTransaction(connection, self._decoded)
            try:
                yield transaction
            except BaseException:
                connection.rollback()
                raise
            self._commit(connection, transaction)

    def _commit(self, connection: Connection, transaction: SqlTransaction) -> None:
        if not transaction.appended:
            connection.commit()
            return
        transaction.prune_events(keep=self._keep_events)
        # Commit and hand over under one lock, so subscribers get batches in commit order even
        # when transactions commit on different threads.
        with self._publishing:
            connection.commit()
            self._subscriptions.publish(transaction.appended)

    def subscribe(self) -> EventSubscription:
        """Batches of events as transactions commit; call from a coroutine (see
        `subscriptions.py` for the overflow policy)."""
        return self._subscriptions.subscribe()

    def close(self) -> None:
        """End every subscription and close the connections."""
        self._subscriptions.close()
        self._engine.dispose()


@contextmanager
def _unavailable_on_connection_errors(engine: Engine) -> Iterator[None]:
    try:
        yield
    except OperationalError as error:
        location = engine.url.render_as_string(hide_password=True)
        raise Unavailable(f"the database {location} cannot serve now: {error.orig}") from error


def open_engine(url: str) -> Engine:
    """An engine for `url`, configured as the store needs (no migrations run)."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def database_url(url: str) -> URL:
    """`url` parsed, with PostgreSQL URLs pointed at the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ValueError(f"the SQLite store needs a file path, not {url!r}")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Leave transaction control to us (pysqlite's own BEGIN would be DEFERRED and implicit).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # On the driver's connection, as the transaction's statements (`Statements._run`).
    driver: Any = connection.connection.driver_connection
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        raise DBAPIError.instance("BEGIN IMMEDIATE", (), error, sqlite3.Error) from error
