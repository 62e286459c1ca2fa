"""What the HTTP layer needs from the running controllers and engine, beyond the store: a doorbell
and access to task logs. The composition root (`conveyor.server`) provides it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.domain.build_reports import Command, NumberedReport


class Control(Protocol):
    def wake(self) -> None:
        """Tell the controllers that desired state changed."""
        ...

    def read_log(self, task_id: str, stream: str, *, offset: int, limit: int) -> tuple[bytes, int]:
        """Bytes of a task's `stdout` or `stderr` from `offset`, and the offset after them.
        Raises NotFound for an unknown task."""
        ...

    def ingest_reports(
        self, pipeline: str, number: int, reports: Sequence[NumberedReport]
    ) -> tuple[int, list[Command]]:
        """Apply a build worker's reports once each; the last applied number and the commands
        waiting for the worker."""
        ...
