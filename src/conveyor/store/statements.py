"""`Statements`: what every kind of record in `SqlTransaction` shares — one connection inside one
database transaction, and the few statement shapes (read one value, delete by key, upsert) that
SQLite and PostgreSQL spell alike through SQLAlchemy Core.

Statements are built once and executed with parameters. Building a Core statement costs far more
than executing a compiled one (an upsert: ~300 µs to build and run, ~35 µs to run a prebuilt
one, on SQLite), and a deployment's path from the API to a started process runs a dozen of them.
So the shapes used on every transaction are module constants with `bindparam`s, or are built
once per shape by the cached builders below.

Running even a compiled statement through SQLAlchemy's `Connection.execute` costs 20-30 µs
(execution context, events, result wrapping); the driver runs a simple one in 2-5 µs. So
`_run` compiles each prebuilt statement once per dialect (`compiled`) and runs its SQL on the
driver's own connection, inside the same database transaction (SQLite's `BEGIN IMMEDIATE` is
sent there too). The SQL still comes from Core. The values are bound as the driver takes them:
a datetime as the `Timestamp` columns store it (microseconds; the only type our columns
convert), everything else as it is; rows come back as the driver's tuples, so a caller reading a
`Timestamp` column converts it itself. The driver's errors are raised as SQLAlchemy's. Statements
built per call (an `IN` list, a prefix match) stay on `Connection.execute`: compiling each
once would only fill a cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Dialect,
    Executable,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from conveyor.store.schema import to_microseconds


class Statements:
    """The base of `SqlTransaction` and of the record kinds it is made of."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"
        self._driver: Any = connection.connection.driver_connection
        self._dbapi: Any = connection.dialect.loaded_dbapi

    def _run(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        """Run a prebuilt statement on the driver's connection, in this transaction, and return
        the driver's cursor (see the module). The driver's errors are raised as SQLAlchemy's.
        `statement` must be built once (a module constant, or from a cached builder): its
        compiled form is kept for as long as the process runs."""
        form = compiled(statement, self._connection.dialect)
        values = {**form.constants, **parameters} if parameters else form.constants
        bound: Any
        if form.names is None:
            bound = {name: _bound(value) for name, value in values.items()}
        else:
            bound = tuple(_bound(values[name]) for name in form.names)
        try:
            return self._driver.execute(form.sql, bound)
        except self._dbapi.Error as error:
            raise DBAPIError.instance(form.sql, bound, error, self._dbapi.Error) from error

    def _scalar(self, query: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row of a prebuilt `query` (see `_run`); None without
        one."""
        row = self._run(query, parameters).fetchone()
        return None if row is None else row[0]

    def _value_of(self, table: Table, column: str, *, where: str, key: object) -> Any:
        """The `column` of the row whose `where` column is `key`; None without one."""
        return self._scalar(select_by(table, column, where), {"key": key})

    def _delete(self, table: Table, column: str, key: object) -> int:
        """How many rows were deleted."""
        rowcount: int = self._run(delete_by(table, column), {"key": key}).rowcount
        return rowcount

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that can say what to do on conflict (`on_conflict_do_...`)."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    def _upsert(self, table: Table, values: Mapping[str, Any]) -> None:
        statement = upsert(table, tuple(values), postgres=self._postgres)
        self._run(statement, values)


@cache
def select_by(table: Table, column: str, key_column: str) -> Select[Any]:
    """SELECT column FROM table WHERE key_column = :key"""
    return select(table.c[column]).where(table.c[key_column] == bindparam("key"))


@cache
def delete_by(table: Table, column: str) -> Delete:
    """DELETE FROM table WHERE column = :key"""
    return delete(table).where(table.c[column] == bindparam("key"))


@cache
def upsert(table: Table, columns: tuple[str, ...], *, postgres: bool) -> Insert:
    """INSERT of `columns` (bound by their names) that updates the row whose primary key
    conflicts."""
    keys = [column.name for column in table.primary_key.columns]
    insert = postgresql.insert(table) if postgres else sqlite.insert(table)
    statement = insert.values({name: bindparam(name) for name in columns})
    changes = {name: statement.excluded[name] for name in columns if name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=changes)


def _bound(value: Any) -> Any:
    return to_microseconds(value) if isinstance(value, datetime) else value


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL for one dialect, as its driver takes it."""

    sql: str
    names: tuple[str, ...] | None
    """The parameters in order, when the driver takes them by position (None: by name)."""
    constants: dict[str, Any]
    """Values the statement binds itself (a LIMIT, an OFFSET)."""


_compiled: dict[tuple[Executable, str], Compiled] = {}


def compiled(statement: Executable, dialect: Dialect) -> Compiled:
    """`statement` compiled for `dialect`, once."""
    key = (statement, dialect.name)
    found = _compiled.get(key)
    if found is None:
        form = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        names = tuple(form.positiontup) if form.positional else None
        constants = {name: value for name, value in form.params.items() if value is not None}
        found = _compiled[key] = Compiled(form.string, names, constants)
    return found
