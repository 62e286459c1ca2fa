"""The `store` fixture: the same tests run against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.store.sql import SqlStore


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    store = SqlStore.open(store_url)
    yield store
    store.close()
