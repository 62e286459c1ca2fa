"""One real server for all the fuzz tests of a test process (an xdist worker), seeded once; each
case is judged by a `Referee` (tests/fuzz/referee.py), which puts the seed back after a case the
server accepted."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import next_port_block
from tests.fuzz.referee import Referee, live_task_id, seed
from tests.support.servers import ServerProcess, kill_leftover_tasks, wait_for


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", port_range=next_port_block())
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            seed(client)
            wait_for(lambda: live_task_id(client) != "no-live-task", message="the seed's task")
            wait_for(lambda: client.get("/v2/deployments").json() == [], message="seed deployed")
        yield server
    finally:
        server.stop()
        kill_leftover_tasks(server.data_dir)


@pytest.fixture(scope="session")
def referee(fuzz_server: ServerProcess) -> Iterator[Referee]:
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as client:
        yield Referee(fuzz_server, client)
