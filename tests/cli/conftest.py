"""The CLI tests' server removes its apps and kills its unfinished builds before it stops, so
no task or build worker outlives a test (a stopped server leaves both running, by design)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from conveyor.client import ClientError, ConveyorClient, build_has_ended
from tests.support.servers import ServerProcess


def remove_every_app(url: str, *, timeout: float = 30.0) -> None:
    with ConveyorClient(url) as client:
        for app in client.list_apps():
            with contextlib.suppress(ClientError):
                client.delete_app(app["id"], force=True)
        deadline = time.monotonic() + timeout
        while client.list_tasks() and time.monotonic() < deadline:
            time.sleep(0.1)


def kill_every_build(url: str, *, timeout: float = 30.0) -> None:
    with ConveyorClient(url) as client:
        unfinished = [
            (pipeline["name"], build["number"])
            for pipeline in client.list_pipelines()
            for build in client.list_builds(pipeline["name"], limit=500).builds
            if not build_has_ended(build)
        ]
        for name, number in unfinished:
            with contextlib.suppress(ClientError):
                client.kill_build(name, number)
        for name, number in unfinished:
            client.wait_for_build(name, number, timeout=timeout, poll_interval=0.1)


@pytest.fixture
def server(server: ServerProcess) -> Iterator[ServerProcess]:
    yield server
    with contextlib.suppress(ClientError):
        kill_every_build(server.url)
    with contextlib.suppress(ClientError):
        remove_every_app(server.url)
