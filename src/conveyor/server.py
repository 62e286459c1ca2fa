"""The composition root: builds store, engine, controllers and api from the settings and runs
them in one asyncio loop. The only module that knows every layer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import uvicorn

from conveyor.api.app import build_api
from conveyor.api.changes import deploy
from conveyor.api.context import Context, ServerInfo
from conveyor.controllers.apps import AppsController
from conveyor.controllers.health import HealthController
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.app_json import app_from_json
from conveyor.domain.clock import Clock, SystemClock
from conveyor.domain.errors import NotFound
from conveyor.engines.local import LocalEngine
from conveyor.engines.protocol import LogStream
from conveyor.store.sql import SqlStore

log = logging.getLogger(__name__)

VERSION = "0.1.0"
EXAMPLE_SEEDED = "examples.seeded"


@dataclass(frozen=True)
class Settings:
    listen: str = "127.0.0.1:8080"
    data_dir: Path = Path(".conveyor")
    database_url: str | None = None
    hostname: str = "127.0.0.1"
    port_range: tuple[int, int] = (31000, 32000)
    attributes: dict[str, str] = field(default_factory=dict)
    with_examples: bool = False

    @property
    def host_and_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'conveyor.db'}"


class EngineControl:
    """The api's `Control`: the controllers' doorbell and the engine's logs."""

    def __init__(self, wakeup: Wakeup, engine: LocalEngine) -> None:
        self._wakeup = wakeup
        self._engine = engine

    def wake(self) -> None:
        self._wakeup.ring()

    def read_log(self, task_id: str, stream: str, *, offset: int, limit: int) -> tuple[bytes, int]:
        if self._engine.log_path(task_id, LogStream(stream)) is None:
            raise NotFound(f"Task '{task_id}' does not exist")
        return self._engine.read_log(task_id, LogStream(stream), offset=offset, limit=limit)


def seed_examples(store: SqlStore, clock: Clock) -> None:
    """Deploy the example app on a new data dir (once; deleting it later is respected)."""
    with store.transaction() as tx:
        if tx.get_value(EXAMPLE_SEEDED):
            return
        document = json.loads(
            resources.files("conveyor.examples").joinpath("hello.json").read_text()
        )
        now = clock.now()
        app = app_from_json(document, base=None, version=now)
        if tx.get_app(app.id) is None:
            deploy(tx, {app.id: app}, now=now)
        tx.put_value(EXAMPLE_SEEDED, True)


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal that stopped it once it has shut down, which ends the
    process before `serve` can stop the controllers and close the engine and the store. Take
    SIGINT/SIGTERM the same way, without the re-raise."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def serve(settings: Settings, *, clock: Clock | None = None) -> None:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore.open(settings.resolved_database_url(), clock=clock)
    engine = LocalEngine(
        settings.data_dir,
        hostname=settings.hostname,
        attributes=settings.attributes,
        port_range=settings.port_range,
        clock=clock,
    )
    if settings.with_examples:
        seed_examples(store, clock)
    wakeup = Wakeup()
    apps = AppsController(store, engine, clock, wakeup)
    health = HealthController(store, apps.lifecycle, clock, wakeup)
    host, port = settings.host_and_port
    info = ServerInfo(
        version=VERSION,
        listen=f"{host}:{port}",
        hostname=settings.hostname,
        data_dir=str(settings.data_dir.resolve()),
        database=settings.resolved_database_url().split("://", 1)[0],
        engine="local",
    )
    api = build_api(Context(store, EngineControl(wakeup, engine), clock, info))
    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    loops = [asyncio.create_task(apps.run()), asyncio.create_task(health.run())]
    try:
        await server.serve()
    finally:
        for loop in loops:
            loop.cancel()
        for loop in loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        await engine.close()
        store.close()
