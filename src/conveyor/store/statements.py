"""`Statements`: what every kind of record in `SqlTransaction` shares — one connection inside one
database transaction, and the few statement shapes (read one value, delete by key, upsert) that
SQLite and PostgreSQL spell alike through SQLAlchemy Core.

Statements are built once and executed with parameters. Building a Core statement costs far more
than executing a compiled one (an upsert: ~300 µs to build and run, ~35 µs to run a prebuilt
one, on SQLite), and a deployment's path from the API to a started process runs a dozen of them.
So the shapes used on every transaction are module constants with `bindparam`s, or are built
once per shape by the cached builders below.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Executable,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite


class Statements:
    """The base of `SqlTransaction` and of the record kinds it is made of."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"

    def _scalar(self, query: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        return self._connection.execute(query, parameters).scalar_one_or_none()

    def _value_of(self, table: Table, column: str, *, where: str, key: object) -> Any:
        """The `column` of the row whose `where` column is `key`; None without one."""
        return self._scalar(select_by(table, column, where), {"key": key})

    def _delete(self, table: Table, column: str, key: object) -> None:
        self._connection.execute(delete_by(table, column), {"key": key})

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that can say what to do on conflict (`on_conflict_do_...`)."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    def _upsert(self, table: Table, values: Mapping[str, Any]) -> None:
        statement = upsert(table, tuple(values), postgres=self._postgres)
        self._connection.execute(statement, values)


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
