"""The shell step: bash -e, streamed lines, exit codes, the process group."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conveyor.domain.builds import BuildStatus, StepStatus
from conveyor.pipelines import Context, StepResult, shell
from tests.pipelines.conftest import is_gone, read_pid, run


def shell_step(script: str, **options: Any) -> Any:
    def step(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return shell(ctx, script, **options)

    return step


def test_output_lines_keep_their_order_and_carry_timestamps(context: Context) -> None:
    script = "for i in $(seq 1 300); do echo out $i; echo err $i >&2; done; sleep 0.3; echo last"
    before = datetime.now(UTC) - timedelta(seconds=1)

    status, reporter = run([shell_step(script)], context)

    lines = reporter.output_lines((1,))
    expected = [f"{kind} {i}" for i in range(1, 301) for kind in ("out", "err")] + ["last"]
    assert status is BuildStatus.SUCCESS
    assert [line.text for line in lines] == expected
    assert [line.seq for line in lines] == list(range(1, len(expected) + 1))
    moments = [line.at for line in lines]
    assert moments == sorted(moments)
    assert before <= moments[0] and moments[-1] - moments[-2] >= timedelta(milliseconds=250)


def test_lines_are_reported_as_they_come_not_when_the_step_ends(context: Context) -> None:
    status, reporter = run([shell_step("echo early; sleep 1; echo late")], context)

    early, late = reporter.output_lines((1,))
    assert status is BuildStatus.SUCCESS
    assert late.at - early.at >= timedelta(milliseconds=900)


def test_a_failing_command_fails_the_step_with_its_exit_code(context: Context) -> None:
    status, reporter = run([shell_step("echo before; false; echo never")], context)

    finished = reporter.finished((1,))
    assert status is BuildStatus.FAILURE
    assert finished is not None and finished.message == "exit code 1"
    assert reporter.text((1,)) == "before"


def test_a_script_gets_its_environment_and_directory(context: Context) -> None:
    (context.workspace / "sub").mkdir()
    step = shell_step(
        'echo "$GREETING $CONVEYOR_PIPELINE $CONVEYOR_STEP_ID"; pwd',
        env={"GREETING": "hi"},
        cwd="sub",
    )

    status, reporter = run([[step]], context)

    assert status is BuildStatus.SUCCESS
    assert reporter.text((1, 1)).splitlines() == ["hi demo 1.1", str(context.workspace / "sub")]


def test_a_missing_directory_fails_the_step(context: Context) -> None:
    status, reporter = run([shell_step("true", cwd="nowhere")], context)

    assert status is BuildStatus.FAILURE
    assert "no such directory" in (reporter.finished((1,)).message or "")  # type: ignore[union-attr]


def test_processes_a_script_leaves_behind_are_ended_with_it(
    context: Context, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()

    status, _ = run([shell_step(f"sleep 100 & echo $! > {pid_file}; echo done")], context)

    assert status is BuildStatus.SUCCESS
    assert time.monotonic() - started < 5
    assert is_gone(read_pid(pid_file))


def test_a_very_long_line_is_cut_into_pieces(context: Context) -> None:
    status, reporter = run([shell_step("head -c 200000 /dev/zero | tr '\\0' x; echo")], context)

    lines = reporter.output_lines((1,))
    assert status is BuildStatus.SUCCESS
    assert "".join(line.text for line in lines) == "x" * 200000
    assert max(len(line.text) for line in lines) <= 64 * 1024


def test_a_killed_step_reports_killed_not_its_exit_code(context: Context, tmp_path: Path) -> None:
    def killed_midway(args: Mapping[str, Any], ctx: Context) -> StepResult:
        ctx.cancelled.cancel("enough")
        return shell(ctx, "sleep 100")

    status, reporter = run([killed_midway], context)

    finished = reporter.finished((1,))
    assert status is BuildStatus.KILLED
    assert finished is not None and (finished.status, finished.message) == (
        StepStatus.KILLED,
        "enough",
    )
