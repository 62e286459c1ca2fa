"""What the engine tests share: running a scenario, an engine that is always closed, waiting."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from conveyor.engines.local import LocalEngine
from conveyor.engines.ports import is_bindable
from conveyor.engines.protocol import LogStream, TaskExit

T = TypeVar("T")
TIMEOUT = 20.0


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async scenario in a fresh event loop, with a time limit."""

    async def limited() -> T:
        return await asyncio.wait_for(scenario(), TIMEOUT)

    return asyncio.run(limited())


@asynccontextmanager
async def open_engine(data_dir: Path, **options: Any) -> AsyncIterator[LocalEngine]:
    engine = LocalEngine(data_dir, **options)
    try:
        yield engine
    finally:
        await engine.close()


async def next_exits(engine: LocalEngine, count: int = 1) -> list[TaskExit]:
    exits = engine.exits()
    return [await asyncio.wait_for(anext(exits), TIMEOUT) for _ in range(count)]


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Wait until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {check}")
        await asyncio.sleep(0.01)


def free_port_range(size: int) -> tuple[int, int]:
    """A range of `size` ports that are all free right now (other tests may take them later,
    but no test of ours will while it runs: ranges start at ports the kernel picks)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = min(int(probe.getsockname()[1]), 65535 - size)
        if all(is_bindable(port) for port in range(first, first + size)):
            return first, first + size - 1
    raise AssertionError(f"no {size} free ports in a row")


def output(engine: LocalEngine, task_id: str, stream: LogStream = LogStream.STDOUT) -> str:
    return engine.read_log(task_id, stream)[0].decode()
