"""An HTTP API on a real store, without controllers: `build_api` on a `SqlStore` (SQLite, and
PostgreSQL when a server is at hand), served by uvicorn on a free loopback port. Nothing runs the
stored instances; tests change state through the API and, where a controller would, through the
store with the controller's events."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import httpx
import pytest

from conveyor.api.admission import AdmissionPolicy
from conveyor.api.app import build_api
from conveyor.api.context import Context, ServerInfo
from conveyor.domain.build_reports import Command, NumberedReport
from conveyor.domain.clock import SystemClock
from conveyor.domain.errors import NotFound
from conveyor.store.sql import SqlStore
from tests.support.servers import serving_in_thread


class WithoutControllers:
    """The api's `Control` of a server that runs no controllers: rings are counted, there are
    no task logs and no builds."""

    def __init__(self) -> None:
        self.rings = 0

    def wake(self) -> None:
        self.rings += 1

    def read_log(self, task_id: str, stream: str, *, offset: int, limit: int) -> tuple[bytes, int]:
        raise NotFound(f"Task '{task_id}' does not exist")

    def ingest_reports(
        self, pipeline: str, number: int, reports: Sequence[NumberedReport]
    ) -> tuple[int, list[Command]]:
        raise NotFound(f"Build {pipeline} #{number} does not exist")


@contextmanager
def serving(store: SqlStore, admission: AdmissionPolicy | None = None) -> Iterator[httpx.Client]:
    """The API on `store`, served on a free loopback port; yields a client of it."""
    info = ServerInfo("test", "127.0.0.1", "127.0.0.1", "", "test", "none")
    api = build_api(Context(store, WithoutControllers(), SystemClock(), info), admission)
    with serving_in_thread(api) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[..., SqlStore]]:
    """Open stores on the test's database (each like one server's); all closed at the end."""
    opened: list[SqlStore] = []

    def open_one(**options: int) -> SqlStore:
        store = SqlStore.open(store_url, **options)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., SqlStore]) -> SqlStore:
    return open_store()


@pytest.fixture
def api(store: SqlStore) -> Iterator[httpx.Client]:
    """A client of the API on `store`."""
    with serving(store) as client:
        yield client
