"""`Statements`: what every kind of record in `SqlTransaction` shares — one connection inside one
database transaction, and the few statement shapes (read one value, delete by key, upsert) that
SQLite and PostgreSQL spell alike through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Executable, Table, delete
from sqlalchemy.dialects import postgresql, sqlite


class Statements:
    """The base of `SqlTransaction` and of the record kinds it is made of."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"

    def _scalar(self, query: Executable) -> Any:
        return self._connection.execute(query).scalar_one_or_none()

    def _delete(self, table: Table, column: Any, key: str) -> None:
        self._connection.execute(delete(table).where(column == key))

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that can say what to do on conflict (`on_conflict_do_...`)."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    def _upsert(self, table: Table, values: Mapping[str, Any]) -> None:
        keys = [column.name for column in table.primary_key.columns]
        statement = self._insert(table).values(dict(values))
        changes = {name: statement.excluded[name] for name in values if name not in keys}
        self._connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes))
