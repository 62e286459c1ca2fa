"""Control flow: parallel, either, junction, alias, workspaces, directories, timeouts."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.domain.builds import BuildStatus, StepStatus
from conveyor.pipelines import (
    Context,
    StepResult,
    alias,
    either,
    in_cwd,
    in_parallel,
    junction,
    shell,
    timeout,
    with_workspace,
)
from conveyor.pipelines.execution import execute_build
from conveyor.pipelines.pipeline import Pipeline
from conveyor.pipelines.reporters.memory import MemoryReporter
from tests.pipelines.conftest import is_gone, read_pid, run


def succeed_with(**values: Any) -> Any:
    def step(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {"status": "success", **values}

    return step


def fail(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return {"status": "failure"}


def test_in_parallel_runs_every_step_at_once_and_merges_their_values(context: Context) -> None:
    def slow(name: str) -> Any:
        def step(args: Mapping[str, Any], ctx: Context) -> StepResult:
            result = shell(ctx, "sleep 0.5")
            return StepResult(result.status, values={name: True})

        return step

    received: list[Any] = []

    def after(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        received.append(dict(args))
        return {"status": "success"}

    started = time.monotonic()
    status, reporter = run([in_parallel(slow("lint"), slow("tests"), slow("docs")), after], context)

    assert status is BuildStatus.SUCCESS
    assert time.monotonic() - started < 1.4  # three half-second steps, side by side
    assert received == [{"lint": True, "tests": True, "docs": True}]
    assert {(1, 1), (1, 2), (1, 3), (1,)} <= set(reporter.finished_steps())


def test_in_parallel_fails_when_one_of_its_steps_fails(context: Context) -> None:
    status, reporter = run([in_parallel(succeed_with(a=1), fail), succeed_with()], context)

    assert status is BuildStatus.FAILURE
    finished = reporter.finished_steps()
    assert finished[(1, 1)].status is StepStatus.SUCCESS
    assert finished[(1, 2)].status is StepStatus.FAILURE
    assert finished[(1,)].status is StepStatus.FAILURE
    assert finished[(1,)].message == "1.2: failure"
    assert (2,) not in finished


def test_either_takes_the_first_success_and_kills_the_others(
    context: Context, tmp_path: Path
) -> None:
    pids = [tmp_path / "slow-1", tmp_path / "slow-2"]

    def slow(pid_file: Path) -> Any:
        def step(args: Mapping[str, Any], ctx: Context) -> StepResult:
            return shell(ctx, f"sleep 100 & echo $! > {pid_file}; wait")

        return step

    def quick(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        for pid_file in pids:
            read_pid(pid_file)  # the others are running when this one wins
        return {"status": "success", "winner": "quick"}

    status, reporter = run([either(slow(pids[0]), quick, slow(pids[1]))], context)

    assert status is BuildStatus.SUCCESS
    finished = reporter.finished_steps()
    assert finished[(1,)].values == {"winner": "quick"}
    assert finished[(1, 2)].status is StepStatus.SUCCESS
    assert finished[(1, 1)].status is StepStatus.KILLED
    assert finished[(1, 3)].status is StepStatus.KILLED
    assert all(is_gone(read_pid(pid_file)) for pid_file in pids)


def test_either_fails_when_none_succeeds(context: Context) -> None:
    status, reporter = run([either(fail, fail)], context)

    assert status is BuildStatus.FAILURE
    assert reporter.finished((1,)).status is StepStatus.FAILURE  # type: ignore[union-attr]


def test_junction_runs_then_when_the_condition_succeeds_and_else_otherwise(
    context: Context,
) -> None:
    status, reporter = run(
        [
            junction(succeed_with(), succeed_with(branch="then"), succeed_with(branch="else")),
            junction(fail, succeed_with(branch="then"), succeed_with(branch="else")),
        ],
        context,
    )

    assert status is BuildStatus.SUCCESS
    finished = reporter.finished_steps()
    assert finished[(1,)].values == {"branch": "then"}
    assert finished[(2,)].values == {"branch": "else"}
    assert {(1, 2), (2, 3)} <= set(finished)
    assert reporter.started_steps() == [(1,), (1, 1), (1, 2), (2,), (2, 1), (2, 3)]
    not_taken = {step: (finished[step].status, finished[step].message) for step in ((1, 3), (2, 2))}
    assert not_taken == {
        (1, 3): (StepStatus.SKIPPED, "not taken: condition 1.1 succeeded"),
        (2, 2): (StepStatus.SKIPPED, "not taken: condition 2.1 failed"),
    }


def test_only_the_failures_that_failed_the_build_are_named_not_a_handled_condition(
    context: Context,
) -> None:
    steps = [
        junction(fail, succeed_with(), succeed_with()),
        in_parallel(fail, succeed_with(), alias("inner", [succeed_with(), fail])),
        succeed_with(never="ran"),
    ]

    result = execute_build(Pipeline("demo", steps), context=context, reporter=MemoryReporter())

    assert result.status is StepStatus.FAILURE
    assert result.failed_steps == ((2, 1), (2, 3, 1, 2))


def test_alias_shows_a_step_under_another_name(context: Context) -> None:
    status, reporter = run([alias("unit tests", succeed_with(passed=12))], context)

    assert status is BuildStatus.SUCCESS
    assert reporter.started_steps() == [(1,), (1, 1)]
    assert reporter.reports[0].name == "unit tests"  # type: ignore[union-attr]
    assert reporter.finished((1,)).values == {"passed": 12}  # type: ignore[union-attr]


def test_with_workspace_gives_its_steps_a_fresh_directory_removed_afterwards(
    context: Context,
) -> None:
    used: list[Path] = []

    def record(args: Mapping[str, Any], ctx: Context) -> StepResult:
        used.append(ctx.workspace)
        return shell(ctx, 'test -z "$(ls -A)" && echo built > artifact')

    def look(args: Mapping[str, Any], ctx: Context) -> StepResult:
        used.append(ctx.workspace)
        return shell(ctx, "cat artifact")

    status, reporter = run([with_workspace(record, look)], context)

    assert status is BuildStatus.SUCCESS
    assert used[0] == used[1] != context.workspace
    assert reporter.text((1, 2)) == "built"
    assert not used[0].exists()


def test_in_cwd_runs_shell_commands_in_a_directory_of_the_workspace(context: Context) -> None:
    (context.workspace / "service").mkdir()

    def where(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return shell(ctx, "pwd")

    status, reporter = run([in_cwd("service", where)], context)

    assert status is BuildStatus.SUCCESS
    assert reporter.text((1, 1)) == str(context.workspace / "service")


def test_timeout_kills_a_step_that_takes_too_long(context: Context, tmp_path: Path) -> None:
    pid_file, child_file = tmp_path / "pid", tmp_path / "child"

    def forever(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return shell(ctx, f"echo $$ > {pid_file}; sleep 100 & echo $! > {child_file}; wait")

    started = time.monotonic()
    status, reporter = run([timeout(1, forever)], context)

    assert status is BuildStatus.FAILURE
    assert time.monotonic() - started < 10
    finished = reporter.finished_steps()
    assert (finished[(1,)].status, finished[(1,)].message) == (
        StepStatus.FAILURE,
        "timed out after 1 s",
    )
    assert finished[(1, 1)].status is StepStatus.KILLED
    assert is_gone(read_pid(pid_file))
    assert is_gone(read_pid(child_file))


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(
    context: Context, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"

    def stubborn(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return shell(ctx, f"trap '' TERM; echo $$ > {pid_file}; while true; do sleep 0.1; done")

    started = time.monotonic()
    status, reporter = run([timeout(0.5, stubborn)], context)

    assert status is BuildStatus.FAILURE
    assert 3.0 <= time.monotonic() - started < 10
    assert reporter.finished((1, 1)).status is StepStatus.KILLED  # type: ignore[union-attr]
    assert is_gone(read_pid(pid_file))
