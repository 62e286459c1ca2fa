"""`MemoryReporter`: keeps every report in a list, in the order it arrived.

A real reporter, not a mock: tests run builds with it, and a program may embed the executor with
it. Output lines become one-line `StepOutput` reports, so `reports` is the whole story in order.
"""

from __future__ import annotations

import threading

from conveyor.domain.build_reports import Report, StepFinished, StepOutput, StepStarted
from conveyor.domain.builds import OutputLine, StepId


class MemoryReporter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: list[Report] = []
        self._lines: dict[StepId, list[OutputLine]] = {}

    def report(self, report: Report) -> None:
        with self._lock:
            self._reports.append(report)

    def output(self, step: StepId, line: OutputLine) -> None:
        with self._lock:
            self._reports.append(StepOutput(step, line.seq, ((line.at, line.text),)))
            self._lines.setdefault(step, []).append(line)

    @property
    def reports(self) -> list[Report]:
        with self._lock:
            return list(self._reports)

    def output_lines(self, step: StepId) -> list[OutputLine]:
        with self._lock:
            return list(self._lines.get(step, ()))

    def text(self, step: StepId) -> str:
        """The step's output, lines joined with newlines."""
        return "\n".join(line.text for line in self.output_lines(step))

    def finished(self, step: StepId) -> StepFinished | None:
        """The step's `StepFinished`, if it was reported."""
        for report in self.reports:
            if isinstance(report, StepFinished) and report.step == step:
                return report
        return None

    def started_steps(self) -> list[StepId]:
        return [r.step for r in self.reports if isinstance(r, StepStarted)]

    def finished_steps(self) -> dict[StepId, StepFinished]:
        return {r.step: r for r in self.reports if isinstance(r, StepFinished)}
