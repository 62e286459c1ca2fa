"""The spool: a build's reports as numbered JSON lines in a file (`BUILD_DIR/reports.jsonl`).

Format: UTF-8, one report per line, each line the JSON document of
`conveyor.domain.build_reports.report_to_json` (it carries `seq` and `type`), terminated by
`\\n`. Reports are numbered from 1 without gaps, in the order they were written. A line without
its final `\\n` is being written (or the writer died mid-line) and is not a report yet. The
worker only appends; it never rewrites or truncates the file, so anyone (the shipper, the
server, `read_spool`) may read it at any time from any line start.

Output lines are gathered per step into `step-output` reports of at most `max_lines` lines or
`max_bytes` of text, written at the latest `flush_seconds` after their first line, and always
before any other report (so a step's output precedes its `step-finished`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from conveyor.domain.build_reports import (
    NumberedReport,
    Report,
    StepOutput,
    report_to_json,
    reports_from_json,
)
from conveyor.domain.builds import OutputLine, StepId


class _PendingOutput:
    __slots__ = ("first_seq", "lines", "size")

    def __init__(self, first_seq: int) -> None:
        self.first_seq = first_seq
        self.lines: list[tuple[datetime, str]] = []
        self.size = 0

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.lines)


class SpoolReporter:
    """A `Reporter` that appends to the spool file; `on_append(seq)` hears of each report."""

    def __init__(
        self,
        path: Path,
        *,
        on_append: Callable[[int], None] | None = None,
        max_lines: int = 500,
        max_bytes: int = 64 * 1024,
        flush_seconds: float = 0.05,
    ) -> None:
        self.path = path
        self.on_append = on_append
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self._file: IO[bytes] = path.open("xb")
        self._seq = 0
        self._pending: dict[StepId, _PendingOutput] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_regularly, name="spool", daemon=True)
        self._flusher.start()

    @property
    def last_seq(self) -> int:
        with self._changed:
            return self._seq

    def report(self, report: Report) -> None:
        with self._changed:
            self._write_pending()
            self._write(report)

    def output(self, step: StepId, line: OutputLine) -> None:
        with self._changed:
            pending = self._pending.get(step)
            if pending is not None and pending.next_seq != line.seq:
                self._write(self._as_report(step, self._pending.pop(step)))
                pending = None
            if pending is None:
                pending = self._pending[step] = _PendingOutput(line.seq)
                self._changed.notify_all()
            pending.lines.append((line.at, line.text))
            pending.size += len(line.text) + 32
            if len(pending.lines) >= self.max_lines or pending.size >= self.max_bytes:
                self._write(self._as_report(step, self._pending.pop(step)))

    def close(self) -> None:
        """Write what is pending and close the file (reports after this are an error)."""
        with self._changed:
            if self._closed:
                return
            self._write_pending()
            self._closed = True
            self._changed.notify_all()
        self._flusher.join()
        self._file.close()

    def _flush_regularly(self) -> None:
        with self._changed:
            while not self._closed:
                if not self._pending:
                    self._changed.wait()
                    continue
                self._changed.wait(self.flush_seconds)
                self._write_pending()

    def _write_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for step, output in pending.items():
            self._write(self._as_report(step, output))

    @staticmethod
    def _as_report(step: StepId, pending: _PendingOutput) -> StepOutput:
        return StepOutput(step, pending.first_seq, tuple(pending.lines))

    def _write(self, report: Report) -> None:
        if self._closed:
            raise ValueError("the spool is closed")
        self._seq += 1
        document = report_to_json(NumberedReport(self._seq, report))
        line = json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        if self.on_append is not None:
            self.on_append(self._seq)


def read_lines(file: IO[bytes], offset: int, max_bytes: int) -> list[bytes]:
    """The complete lines from `offset`: at least one if there is one, then as many as fit in
    `max_bytes`."""
    file.seek(offset)
    lines: list[bytes] = []
    total = 0
    while True:
        line = file.readline()
        if not line.endswith(b"\n"):
            return lines
        if lines and total + len(line) > max_bytes:
            return lines
        lines.append(line)
        total += len(line)


def read_spool(path: Path, offset: int = 0) -> Iterator[tuple[NumberedReport, int]]:
    """Each complete report in the spool from `offset`, with the offset of the line after it."""
    with path.open("rb") as file:
        file.seek(offset)
        while (line := file.readline()).endswith(b"\n"):
            offset += len(line)
            yield reports_from_json([json.loads(line)])[0], offset
