"""How the store opens its databases: SQLite settings, URLs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import make_url

from conveyor.domain.errors import Unavailable
from conveyor.store import sql
from conveyor.store.sql import SQLITE_BUSY_TIMEOUT_MS, SqlStore, database_url


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    store = SqlStore.open(sqlite_url)
    try:
        with store.engine.connect() as connection:

            def pragma(name: str) -> object:
                return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
    finally:
        store.close()


def test_the_sqlite_file_and_its_directory_are_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "conveyor.db"

    SqlStore.open(f"sqlite:///{path}").close()

    assert path.is_file()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="needs a file"):
        SqlStore.open(url)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5432/conveyor", "postgresql+psycopg://u:p@db:5432/conveyor"),
        ("postgres://u@db/conveyor", "postgresql+psycopg://u@db/conveyor"),
        ("postgresql+psycopg://u@db/conveyor", "postgresql+psycopg://u@db/conveyor"),
        ("sqlite:////var/lib/conveyor.db", "sqlite:////var/lib/conveyor.db"),
    ],
)
def test_postgresql_urls_use_the_psycopg_driver(given: str, used: str) -> None:
    assert database_url(given).render_as_string(hide_password=False) == used


def test_a_database_that_cannot_be_reached_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="cannot serve now"):
        SqlStore.open("postgresql://conveyor@127.0.0.1:1/conveyor")


def test_a_database_locked_past_the_busy_timeout_is_unavailable(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "SQLITE_BUSY_TIMEOUT_MS", 50)
    store = SqlStore.open(sqlite_url)
    blocker = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable, match="locked"), store.transaction() as tx:
            tx.put_value("a", 1)
    finally:
        blocker.close()
        store.close()
