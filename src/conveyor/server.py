"""The composition root: builds store, engine, controllers and api from the settings and runs
them in one asyncio loop. The only module that knows every layer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from conveyor.api.admission import AdmissionPolicy
from conveyor.api.app import build_api
from conveyor.api.context import Context, ServerInfo
from conveyor.controllers.apps import AppsController
from conveyor.controllers.builds import BuildRunner
from conveyor.controllers.git_watcher import GitWatcher
from conveyor.controllers.health import HealthController
from conveyor.controllers.task_exits import TaskExitRouter
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.build_reports import Command, NumberedReport
from conveyor.domain.builds import BUILD_TASK_PREFIX
from conveyor.domain.clock import Clock, SystemClock
from conveyor.domain.errors import NotFound
from conveyor.domain.limits import MAX_REQUEST_BYTES
from conveyor.engines.local import LocalEngine
from conveyor.engines.protocol import LogStream
from conveyor.examples import seed_examples
from conveyor.store.sql import SqlStore

log = logging.getLogger(__name__)

VERSION = "0.1.0"


@dataclass(frozen=True)
class Settings:
    listen: str = "127.0.0.1:8080"
    data_dir: Path = Path(".conveyor")
    database_url: str | None = None
    hostname: str = "127.0.0.1"
    port_range: tuple[int, int] = (31000, 32000)
    attributes: dict[str, str] = field(default_factory=dict)
    with_examples: bool = False
    max_request_bytes: int = MAX_REQUEST_BYTES
    allowed_origins: tuple[str, ...] = ()

    @property
    def host_and_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'conveyor.db'}"


class EngineControl:
    """The api's `Control`: the controllers' doorbell, the engine's logs, build reports."""

    def __init__(self, wakeup: Wakeup, engine: LocalEngine, builds: BuildRunner) -> None:
        self._wakeup = wakeup
        self._engine = engine
        self._builds = builds

    def wake(self) -> None:
        self._wakeup.ring()

    def read_log(self, task_id: str, stream: str, *, offset: int, limit: int) -> tuple[bytes, int]:
        if self._engine.log_path(task_id, LogStream(stream)) is None:
            raise NotFound(f"Task '{task_id}' does not exist")
        return self._engine.read_log(task_id, LogStream(stream), offset=offset, limit=limit)

    def ingest_reports(
        self, pipeline: str, number: int, reports: Sequence[NumberedReport]
    ) -> tuple[int, list[Command]]:
        applied, commands = self._builds.reports.ingest(pipeline, number, reports)
        self._wakeup.ring()
        return applied, commands


def _own_url(host: str, port: int) -> str:
    """How processes on this machine (build workers) reach this server."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    return f"http://{reachable}:{port}"


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


class Loop(Protocol):
    async def run(self) -> None: ...


@dataclass
class Components:
    """Everything one server runs, built from the settings."""

    store: SqlStore
    engine: LocalEngine
    api: FastAPI
    loops: list[Loop]


def assemble(settings: Settings, clock: Clock) -> Components:
    """Build the store, the engine, the controllers and the HTTP app, and wire them."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore.open(settings.resolved_database_url(), clock=clock)
    engine = LocalEngine(
        settings.data_dir,
        hostname=settings.hostname,
        attributes=settings.attributes,
        port_range=settings.port_range,
        clock=clock,
    )
    host, port = settings.host_and_port
    own_url = _own_url(host, port)
    if settings.with_examples:
        seed_examples(store, clock, data_dir=settings.data_dir, server_url=own_url)
    wakeup = Wakeup()
    apps = AppsController(store, engine, clock, wakeup)
    health = HealthController(store, apps.lifecycle, clock, wakeup)
    builds = BuildRunner(
        store, engine, clock, wakeup, data_dir=settings.data_dir, server_url=own_url
    )
    watcher = GitWatcher(store, clock, wakeup, data_dir=settings.data_dir)
    exits = TaskExitRouter(engine, default=apps.on_task_exit)
    exits.route(BUILD_TASK_PREFIX, builds.on_task_exit)
    info = ServerInfo(
        version=VERSION,
        listen=f"{host}:{port}",
        hostname=settings.hostname,
        data_dir=str(settings.data_dir.resolve()),
        database=settings.resolved_database_url().split("://", 1)[0],
        engine="local",
    )
    admission = AdmissionPolicy.of(
        max_request_bytes=settings.max_request_bytes,
        allowed_origins=settings.allowed_origins,
        listen_host=host,
    )
    api = build_api(Context(store, EngineControl(wakeup, engine, builds), clock, info), admission)
    return Components(store, engine, api, [apps, health, builds, watcher, exits])


async def serve(settings: Settings, *, clock: Clock | None = None) -> None:
    """Run a server until SIGINT/SIGTERM; its tasks and build workers keep running."""
    parts = assemble(settings, clock or SystemClock())
    host, port = settings.host_and_port
    config = uvicorn.Config(
        parts.api,
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    running = [asyncio.create_task(loop.run()) for loop in parts.loops]
    try:
        await _Server(config).serve()
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await parts.engine.close()
        parts.store.close()
