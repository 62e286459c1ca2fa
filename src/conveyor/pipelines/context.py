"""`Context`: what a step knows about the build it runs in, and how it talks back.

A frozen dataclass, one per step: the executor derives a step's context from its parent's with
`dataclasses.replace` (its own `step_id`, `output` writer and child `cancelled`). Control flow
that changes where children work (`with_workspace`, `in_cwd`) replaces `workspace` or `cwd`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.domain.builds import OutputLine, StepId
from conveyor.domain.clock import Clock, SystemClock
from conveyor.pipelines.cancellation import Cancellation, StepCancelled
from conveyor.pipelines.controls import BuildControls
from conveyor.pipelines.reporting import Reporter

if TYPE_CHECKING:
    from conveyor.pipelines.execution import Execution

MAX_LINE_CHARS = 64 * 1024
"""Longer lines are cut into pieces of this many characters."""

_SYSTEM_CLOCK = SystemClock()
DEFAULT_SERVER = "http://127.0.0.1:8080"
"""The server a step talks to when the build's order names none (`conveyor up`'s)."""


class OutputWriter:
    """Reports one step's output lines, numbered from 1, each with the time it was written."""

    def __init__(
        self, step: StepId, reporter: Reporter | None, clock: Clock = _SYSTEM_CLOCK
    ) -> None:
        self.step = step
        self._reporter = reporter
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = 0

    def write_line(self, text: str) -> None:
        """One line (without its newline); a longer one is cut into several."""
        if self._reporter is None:
            return
        for start in range(0, max(len(text), 1), MAX_LINE_CHARS):
            with self._lock:
                self._seq += 1
                line = OutputLine(
                    self._seq, self._clock.now(), text[start : start + MAX_LINE_CHARS]
                )
                self._reporter.output(self.step, line)

    def write(self, text: str) -> None:
        """Text of one or more lines, as `print` would show it."""
        for line in text.removesuffix("\n").split("\n"):
            self.write_line(line.removesuffix("\r"))


@dataclass(frozen=True)
class Context:
    pipeline: str
    build_number: int
    workspace: Path
    """The build's workspace: a directory that lives as long as the build (and is handed on to a
    build retriggered from this one)."""
    controls: BuildControls
    cancelled: Cancellation
    """Set when this step must stop (killed, timed out, lost an `either`, build killed)."""
    step_id: StepId = ()
    commit: str | None = None
    repository: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """The build's parameters (from its trigger)."""
    server: str = DEFAULT_SERVER
    """The Conveyor server's URL (deploy steps call its API)."""
    cwd: Path | None = None
    """Where shell commands run when not the workspace (`in_cwd`)."""
    output: OutputWriter = field(default_factory=lambda: OutputWriter((), None))
    execution: Execution | None = None
    """The executor running this build (set by `run_build`; control flow runs children with
    it)."""

    @classmethod
    def for_build(
        cls,
        pipeline: str,
        build_number: int,
        workspace: Path,
        *,
        commit: str | None = None,
        repository: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        server: str = DEFAULT_SERVER,
        controls: BuildControls | None = None,
    ) -> Context:
        """The root context of a build; `controls` (made if not given) carries commands to it."""
        controls = controls or BuildControls()
        return cls(
            pipeline=pipeline,
            build_number=build_number,
            workspace=workspace,
            controls=controls,
            cancelled=controls.cancellation,
            commit=commit,
            repository=repository,
            parameters=dict(parameters or {}),
            server=server,
        )

    @property
    def working_directory(self) -> Path:
        return self.cwd or self.workspace

    def print(self, text: str = "") -> None:
        """Add `text` (one or more lines) to the step's output."""
        self.output.write(text)

    def check_cancelled(self) -> None:
        """Raise `StepCancelled` if the step must stop (the executor reports it killed)."""
        if self.cancelled.is_set():
            raise StepCancelled(self.cancelled.reason or "cancelled")
