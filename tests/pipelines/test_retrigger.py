"""Retriggered builds: steps before the retriggered one are reused, not run again."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.domain.build_orders import RecordedStep
from conveyor.domain.builds import BuildStatus, StepId, StepStatus
from conveyor.pipelines import Context, StepResult, in_parallel, shell
from tests.pipelines.conftest import run


def counting(name: str, tally: Path, **values: Any) -> Any:
    """A step that leaves `name` in the workspace and counts its runs in `tally`."""

    def step(args: Mapping[str, Any], ctx: Context) -> StepResult:
        result = shell(ctx, f"echo {name} >> {tally}; echo {name} > {name}.txt")
        return StepResult(result.status, values=values)

    step.__name__ = name
    return step


def recorded_of(finished: Mapping[StepId, Any]) -> dict[StepId, RecordedStep]:
    return {
        step: RecordedStep(step, "step", report.status, report.values)
        for step, report in finished.items()
    }


def test_a_retriggered_build_reuses_the_steps_before_and_finds_their_files(
    context: Context, tmp_path: Path
) -> None:
    tally = tmp_path / "tally"
    received: list[dict[str, Any]] = []

    def package(args: Mapping[str, Any], ctx: Context) -> StepResult:
        received.append(dict(args))
        return shell(ctx, "cat compile.txt test.txt")

    steps = [
        counting("compile", tally, artifact="app.tgz"),
        counting("test", tally, passed=True, **{"global": {"registry": "r.example.org"}}),
        package,
    ]
    status, original = run(steps, context)
    assert status is BuildStatus.SUCCESS
    assert tally.read_text().split() == ["compile", "test"]

    status, retriggered = run(
        steps, context, recorded=recorded_of(original.finished_steps()), retrigger_from=(3,)
    )

    assert status is BuildStatus.SUCCESS
    assert tally.read_text().split() == ["compile", "test"]  # not run again
    assert retriggered.started_steps() == [(3,)]
    reused = retriggered.finished_steps()
    assert [reused[(1,)].reused, reused[(2,)].reused, reused[(3,)].reused] == [True, True, False]
    assert reused[(1,)].values == {"artifact": "app.tgz"}
    assert received[1] == received[0] == {"passed": True, "global": {"registry": "r.example.org"}}
    assert retriggered.text((3,)).splitlines() == ["compile", "test"]


def test_retriggering_a_step_inside_control_flow_reruns_its_parents(
    context: Context, tmp_path: Path
) -> None:
    tally = tmp_path / "tally"
    steps = [
        counting("setup", tally),
        in_parallel(counting("lint", tally), counting("unit", tally)),
        counting("ship", tally),
    ]
    _, original = run(steps, context)
    recorded = recorded_of(original.finished_steps())
    tally.unlink()

    status, retriggered = run(steps, context, recorded=recorded, retrigger_from=(2, 2))

    assert status is BuildStatus.SUCCESS
    assert tally.read_text().split() == ["unit", "ship"]
    finished = retriggered.finished_steps()
    assert {step for step, report in finished.items() if report.reused} == {(1,), (2, 1)}
    assert retriggered.started_steps() == [(2,), (2, 2), (3,)]


def test_the_children_of_a_reused_step_are_reported_reused_too(
    context: Context, tmp_path: Path
) -> None:
    tally = tmp_path / "tally"
    steps = [in_parallel(counting("lint", tally), counting("unit", tally)), counting("ship", tally)]
    _, original = run(steps, context)
    tally.unlink()

    status, retriggered = run(
        steps, context, recorded=recorded_of(original.finished_steps()), retrigger_from=(2,)
    )

    assert status is BuildStatus.SUCCESS
    finished = retriggered.finished_steps()
    assert [step for step, report in finished.items() if report.reused] == [(1, 1), (1, 2), (1,)]
    assert all(finished[s].status is StepStatus.SUCCESS for s in finished)
    assert tally.read_text().split() == ["ship"]
