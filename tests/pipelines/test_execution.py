"""The executor: order, values, failures, kills — with the in-memory reporter."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.domain.build_reports import KillBuild, KillStep, StepFinished, StepStarted
from conveyor.domain.builds import BuildStatus, StepStatus
from conveyor.pipelines import Context, Pipeline, StepResult, in_parallel, run_build, shell
from conveyor.pipelines.reporters.memory import MemoryReporter
from conveyor.pipelines.step_streams import StepStream
from tests.pipelines.conftest import is_gone, read_pid, run
from tests.support.servers import wait_for


def test_steps_run_in_order_and_values_flow_into_the_next_steps_args(context: Context) -> None:
    seen: list[dict[str, Any]] = []

    def first(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        seen.append(dict(args))
        return {"status": "success", "version": "1.2", "output": "first done"}

    def second(args: Mapping[str, Any], ctx: Context) -> StepResult:
        seen.append(dict(args))
        return StepResult(StepStatus.SUCCESS, values={"artifact": f"app-{args['version']}.tgz"})

    def third(args: Mapping[str, Any], ctx: Context) -> StepResult:
        seen.append(dict(args))
        return StepResult("success")  # type: ignore[arg-type]

    status, reporter = run([first, second, third], context)

    assert status is BuildStatus.SUCCESS
    assert seen == [{}, {"version": "1.2"}, {"artifact": "app-1.2.tgz"}]
    assert reporter.started_steps() == [(1,), (2,), (3,)]
    assert reporter.text((1,)) == "first done"
    assert reporter.finished((2,)) is not None
    assert reporter.finished((2,)).values == {"artifact": "app-1.2.tgz"}  # type: ignore[union-attr]


def test_global_values_reach_every_later_step(context: Context) -> None:
    seen: list[Any] = []

    def publish(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {"status": "success", "global": {"registry": "r.example.org"}, "local": 1}

    def look(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        seen.append((args.get("global"), args.get("local")))
        return {"status": "success"}

    status, _ = run([publish, look, [look, look]], context)

    assert status is BuildStatus.SUCCESS
    registry = {"registry": "r.example.org"}
    assert seen == [(registry, 1), (registry, None), (registry, None)]


def test_an_exception_fails_the_step_with_its_traceback_as_output(context: Context) -> None:
    def broken(args: Mapping[str, Any], ctx: Context) -> StepResult:
        raise ValueError("no such artifact")

    status, reporter = run([broken], context)

    assert status is BuildStatus.FAILURE
    finished = reporter.finished((1,))
    assert finished is not None and finished.status is StepStatus.FAILURE
    assert finished.message == "ValueError: no such artifact"
    assert "Traceback (most recent call last)" in reporter.text((1,))
    assert 'raise ValueError("no such artifact")' in reporter.text((1,))


def test_a_step_that_returns_no_status_fails(context: Context) -> None:
    def forgetful(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {"version": "1.0"}

    def nothing(args: Mapping[str, Any], ctx: Context) -> None:
        return None

    status, reporter = run([in_parallel(forgetful, nothing)], context)

    assert status is BuildStatus.FAILURE
    for step in ((1, 1), (1, 2)):
        finished = reporter.finished(step)
        assert finished is not None and finished.status is StepStatus.FAILURE
        assert finished.message == "step returned no status"


def test_the_build_stops_at_the_first_failure(context: Context) -> None:
    ran: list[str] = []

    def fails(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        ran.append("fails")
        return {"status": "failure"}

    def later(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        ran.append("later")
        return {"status": "success"}

    status, reporter = run([fails, later], context)

    assert status is BuildStatus.FAILURE
    assert ran == ["fails"]
    assert (2,) not in reporter.finished_steps()


def test_the_structure_numbers_nested_steps_from_their_parent() -> None:
    def a(args: Mapping[str, Any], ctx: Context) -> None: ...
    def b(args: Mapping[str, Any], ctx: Context) -> None: ...

    pipeline = Pipeline("demo", [a, in_parallel(a, [b, a]), b])

    assert pipeline.structure == (
        ((1,), "a"),
        ((2,), "in_parallel"),
        ((2, 1), "a"),
        ((2, 2), "sequence"),
        ((2, 2, 1), "b"),
        ((2, 2, 2), "a"),
        ((3,), "b"),
    )


def test_output_lines_are_numbered_per_step_and_timestamped(context: Context) -> None:
    def talk(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        ctx.print("one\ntwo")
        ctx.output.write_line("three")
        return {"status": "success"}

    _, reporter = run([talk], context)

    lines = reporter.output_lines((1,))
    assert [(line.seq, line.text) for line in lines] == [(1, "one"), (2, "two"), (3, "three")]
    assert all(line.at.tzinfo is not None for line in lines)


def test_what_a_step_prints_is_its_output_even_from_code_it_calls(context: Context) -> None:
    def helper() -> None:
        print("from a helper", file=sys.stderr)

    def talk(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        print("plain print")
        print("no newline", end="")
        print(" yet")
        helper()
        ctx.print("ctx.print")
        print("last line without a newline", end="")
        return {"status": "success"}

    _, reporter = run([talk], context)

    assert reporter.text((1,)).split("\n") == [
        "plain print",
        "no newline yet",
        "from a helper",
        "ctx.print",
        "last line without a newline",
    ]
    assert not isinstance(sys.stdout, StepStream), "the streams are put back after the build"


def test_steps_printing_at_once_in_threads_each_get_their_own_lines(context: Context) -> None:
    both_started = threading.Barrier(2, timeout=10)

    def talker(name: str) -> Any:
        def talk(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
            both_started.wait()
            for n in range(200):
                print(f"{name} {n}")
            return {"status": "success"}

        return talk

    status, reporter = run([in_parallel(talker("left"), talker("right"))], context)

    assert status is BuildStatus.SUCCESS
    assert reporter.text((1, 1)).split("\n") == [f"left {n}" for n in range(200)]
    assert reporter.text((1, 2)).split("\n") == [f"right {n}" for n in range(200)]
    assert reporter.text((1,)) == ""


def test_killing_a_step_ends_its_running_shell_as_killed(context: Context, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def long_running(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return shell(ctx, f"sleep 100 & echo $! > {pid_file}; wait")

    outcome: list[Any] = []
    build = threading.Thread(target=lambda: outcome.append(run([long_running], context)))
    build.start()
    pid = read_pid(pid_file)
    context.controls.apply(KillStep((1,)))
    build.join(timeout=30)

    status, reporter = outcome[0]
    assert status is BuildStatus.KILLED
    assert reporter.finished((1,)).status is StepStatus.KILLED
    assert is_gone(pid)


def test_killing_the_build_kills_the_running_step_and_starts_no_other(
    context: Context, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"

    def long_running(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return shell(ctx, f"echo $$ > {pid_file}; sleep 100")

    def never(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        raise AssertionError("a step ran after the build was killed")

    outcome: list[Any] = []
    build = threading.Thread(target=lambda: outcome.append(run([long_running, never], context)))
    build.start()
    pid = read_pid(pid_file)
    context.controls.apply(KillBuild("stopped by alice"))
    build.join(timeout=30)

    status, reporter = outcome[0]
    assert status is BuildStatus.KILLED
    finished = reporter.finished((1,))
    assert finished is not None
    assert (finished.status, finished.message) == (StepStatus.KILLED, "stopped by alice")
    assert reporter.started_steps() == [(1,)]
    assert is_gone(pid)


def test_a_step_can_poll_for_cancellation(context: Context) -> None:
    def polite(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        while True:
            ctx.check_cancelled()
            ctx.cancelled.wait(0.01)

    reporter = MemoryReporter()
    outcome: list[BuildStatus] = []
    pipeline = Pipeline("demo", [polite])
    build = threading.Thread(
        target=lambda: outcome.append(run_build(pipeline, context=context, reporter=reporter))
    )
    build.start()
    wait_for(reporter.started_steps, timeout=5)
    context.controls.apply(KillBuild())
    build.join(timeout=10)

    assert outcome == [BuildStatus.KILLED]
    assert [type(r) for r in reporter.reports] == [StepStarted, StepFinished]
    assert reporter.finished((1,)).status is StepStatus.KILLED  # type: ignore[union-attr]
