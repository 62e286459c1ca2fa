"""The spool: numbered JSON lines, output gathered per step, flushed while a step runs."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.domain.build_reports import BuildFinished, StepFinished, StepOutput, StepStarted
from conveyor.domain.builds import BuildStatus, OutputLine, StepStatus
from conveyor.pipelines.reporters.spool import SpoolReporter, read_lines, read_spool
from tests.support.servers import wait_for

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_reports_are_numbered_lines_and_output_is_gathered_before_the_step_finishes(
    tmp_path: Path,
) -> None:
    spool = SpoolReporter(tmp_path / "reports.jsonl", max_lines=100, flush_seconds=60)
    spool.report(StepStarted((1,), "compile", NOW))
    for seq in range(1, 251):
        spool.output((1,), OutputLine(seq, NOW, f"line {seq}"))
    spool.report(StepFinished((1,), StepStatus.SUCCESS, NOW))
    spool.report(BuildFinished(BuildStatus.SUCCESS, NOW))
    spool.close()

    reports = [numbered for numbered, _ in read_spool(spool.path)]
    assert [r.seq for r in reports] == list(range(1, 7))
    kinds = [type(r.report) for r in reports]
    assert kinds == [StepStarted, StepOutput, StepOutput, StepOutput, StepFinished, BuildFinished]
    outputs = [r.report for r in reports if isinstance(r.report, StepOutput)]
    assert [(o.first_seq, len(o.lines)) for o in outputs] == [(1, 100), (101, 100), (201, 50)]
    assert outputs[2].lines[-1] == (NOW, "line 250")


def test_output_reaches_the_file_soon_without_any_other_report(tmp_path: Path) -> None:
    spool = SpoolReporter(tmp_path / "reports.jsonl")
    try:
        spool.output((2, 1), OutputLine(1, NOW, "compiling"))

        wait_for(lambda: spool.path.read_bytes().endswith(b"\n"), timeout=1, interval=0.01)
        document = json.loads(spool.path.read_text())
        assert (document["seq"], document["type"], document["step"]) == (1, "step-output", "2.1")
        assert document["lines"] == [["2024-05-01T12:00:00.000Z", "compiling"]]
    finally:
        spool.close()


def test_a_spool_is_written_once(tmp_path: Path) -> None:
    (tmp_path / "reports.jsonl").write_text("")

    with pytest.raises(FileExistsError):
        SpoolReporter(tmp_path / "reports.jsonl")


def test_a_line_still_being_written_is_not_read() -> None:
    spool = io.BytesIO(b'{"seq":1}\n{"seq":2}\n{"se')

    assert read_lines(spool, 0, 1_000_000) == [b'{"seq":1}\n', b'{"seq":2}\n']
    assert read_lines(spool, 10, 1_000_000) == [b'{"seq":2}\n']
    assert read_lines(spool, 0, 5) == [b'{"seq":1}\n']  # at least one, however large
