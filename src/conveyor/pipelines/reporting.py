"""The `Reporter` port: where the executor sends what happens in a build.

Implementations live in `conveyor.pipelines.reporters`: `spool.SpoolReporter` (the worker's:
numbered JSON lines in the build directory, shipped to the server) and `memory.MemoryReporter`
(keeps everything in lists; tests and embedding). Both must accept calls from several threads
(steps run in parallel).
"""

from __future__ import annotations

from typing import Protocol

from conveyor.domain.build_reports import Report
from conveyor.domain.builds import OutputLine, StepId


class Reporter(Protocol):
    def report(self, report: Report) -> None:
        """A build or step transition (anything but output)."""
        ...

    def output(self, step: StepId, line: OutputLine) -> None:
        """One line a step printed; per step, lines come in `seq` order from 1. A reporter may
        gather lines into `StepOutput` reports, but must deliver a step's lines before any later
        report about that step."""
        ...
