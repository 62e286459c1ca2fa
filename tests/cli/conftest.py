"""The CLI tests' server removes its apps before it stops, so no task outlives a test (a
stopped server leaves its tasks running, by design)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from conveyor.client import ClientError, ConveyorClient
from tests.support.servers import ServerProcess


def remove_every_app(url: str, *, timeout: float = 30.0) -> None:
    with ConveyorClient(url) as client:
        for app in client.list_apps():
            with contextlib.suppress(ClientError):
                client.delete_app(app["id"], force=True)
        deadline = time.monotonic() + timeout
        while client.list_tasks() and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture
def server(server: ServerProcess) -> Iterator[ServerProcess]:
    yield server
    with contextlib.suppress(ClientError):
        remove_every_app(server.url)
