"""Plain ASGI middleware (no response buffering, so event streams pass straight through)."""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.metrics import Metrics

_SLASHES = re.compile(r"/{2,}")


class CollapseSlashes:
    """`/v2/apps//web/tasks` → `/v2/apps/web/tasks`: the `marathon` client sends such paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = _SLASHES.sub("/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


class RequestMetrics:
    """Times every request into `Metrics` (until its response headers are sent)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.observe(
                    scope["path"], scope["method"], message["status"], time.perf_counter() - started
                )
            await send(message)

        await self.app(scope, receive, timed_send)
