"""One reader of the engine's task ends, handing each to the controller that owns the task:
build workers to the build runner (by their task id prefix), everything else to the apps
controller."""

from __future__ import annotations

import logging
from collections.abc import Callable

from conveyor.engines import Engine, TaskExit

log = logging.getLogger(__name__)

ExitHandler = Callable[[TaskExit], None]


class TaskExitRouter:
    def __init__(self, engine: Engine, *, default: ExitHandler) -> None:
        self._engine = engine
        self._default = default
        self._routes: list[tuple[str, ExitHandler]] = []

    def route(self, prefix: str, handler: ExitHandler) -> None:
        self._routes.append((prefix, handler))

    def handler_for(self, task_id: str) -> ExitHandler:
        for prefix, handler in self._routes:
            if task_id.startswith(prefix):
                return handler
        return self._default

    async def run(self) -> None:
        async for end in self._engine.exits():
            try:
                self.handler_for(end.task_id)(end)
            except Exception:
                log.exception("could not record the end of task %s", end.task_id)
