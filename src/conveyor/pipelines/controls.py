"""`BuildControls`: where the server's commands reach a running build.

The worker's shipper hands every command from the server's answers to `apply`: `KillBuild`
cancels the build's root cancellation, `KillStep` the cancellation of that running step (and so
of its children), `ReleaseStep` wakes the manual trigger waiting at that step. Commands may
arrive from any thread at any time; one for a step that is not running is dropped, a release
that comes before its trigger waits is kept for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from conveyor.domain.build_reports import Command, KillBuild, KillStep, ReleaseStep
from conveyor.domain.builds import StepId
from conveyor.pipelines.cancellation import Cancellation


class BuildControls:
    def __init__(self, cancellation: Cancellation | None = None) -> None:
        self.cancellation = cancellation or Cancellation()
        """The build's root: cancelling it cancels every step."""
        self._running: dict[StepId, Cancellation] = {}
        self._releases: dict[StepId, ReleaseStep] = {}
        self._changed = threading.Condition()

    def apply(self, command: Command) -> None:
        if isinstance(command, KillBuild):
            self.cancellation.cancel(command.reason)
        elif isinstance(command, KillStep):
            with self._changed:
                target = self._running.get(command.step)
            if target is not None:
                target.cancel("killed")
        else:
            with self._changed:
                self._releases[command.step] = command
                self._changed.notify_all()

    @contextmanager
    def running(self, step: StepId, cancellation: Cancellation) -> Iterator[None]:
        """While inside, `KillStep(step)` cancels `cancellation`."""
        with self._changed:
            self._running[step] = cancellation
        try:
            yield
        finally:
            with self._changed:
                if self._running.get(step) is cancellation:
                    del self._running[step]

    def await_release(self, step: StepId, cancellation: Cancellation) -> ReleaseStep | None:
        """Block until the server releases `step` (the release) or `cancellation` is set
        (None)."""

        def wake() -> None:
            with self._changed:
                self._changed.notify_all()

        forget = cancellation.on_cancel(wake)
        try:
            with self._changed:
                while step not in self._releases and not cancellation.is_set():
                    self._changed.wait()
                if cancellation.is_set():
                    return None
                return self._releases.pop(step)
        finally:
            forget()
