"""Fixtures shared by every test folder."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import postgres_server, postgres_url
from tests.support.servers import ServerProcess, kill_leftover_tasks

# One throwaway PostgreSQL cluster per test process, for every folder that uses one.
__all__ = ["postgres_server", "postgres_url"]


_blocks = itertools.count()


def next_port_block(size: int = 100) -> tuple[int, int]:
    """A host port range no other test server of this run uses (per xdist worker, in turn)."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    block = next(_blocks) % 10
    first = 40000 + worker * 1000 + block * size
    return first, first + size - 1


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[ServerProcess]]:
    """Start servers with `server_factory(data_dir, ...)`; all are stopped, and the tasks they
    left running are killed, when the test ends."""
    started: list[ServerProcess] = []

    class Factory(ServerProcess):
        def __init__(self, data_dir: Path | None = None, **kwargs: object) -> None:
            kwargs.setdefault("port_range", next_port_block())
            super().__init__(data_dir or tmp_path / "data", **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Factory
    for server in started:
        server.stop()
    for server in started:
        kill_leftover_tasks(server.data_dir)


@pytest.fixture
def server(server_factory: type[ServerProcess]) -> ServerProcess:
    """A running server on a fresh SQLite data dir, with its own port range."""
    return server_factory().start()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'conveyor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind, by URL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url
