"""Manual triggers: waiting, releasing with typed parameters, refusing, cancelling."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from conveyor.domain.build_reports import KillStep, ReleaseStep, StepWaiting
from conveyor.domain.builds import BuildStatus, StepStatus
from conveyor.pipelines import Context, Pipeline, manual_trigger, run_build
from conveyor.pipelines.reporters.memory import MemoryReporter
from tests.support.servers import wait_for

PARAMETERS = {
    "version": {"type": "string", "default": "1.0"},
    "replicas": {"type": "integer", "default": 2},
    "canary": {"type": "boolean", "default": False},
    "ratio": 0.5,
}


class Build:
    """A build running in a thread, with its reporter."""

    def __init__(self, steps: list[Any], context: Context) -> None:
        self.reporter = MemoryReporter()
        self.context = context
        self.status: BuildStatus | None = None
        pipeline = Pipeline("demo", steps)
        self.thread = threading.Thread(target=self._run, args=(pipeline,))
        self.thread.start()

    def _run(self, pipeline: Pipeline) -> None:
        self.status = run_build(pipeline, context=self.context, reporter=self.reporter)

    def waiting(self) -> list[StepWaiting]:
        return [r for r in self.reporter.reports if isinstance(r, StepWaiting)]

    def wait_until_waiting(self) -> StepWaiting:
        wait_for(self.waiting, timeout=10, message="a waiting step")
        return self.waiting()[0]

    def join(self) -> BuildStatus:
        self.thread.join(timeout=30)
        assert self.status is not None
        return self.status


def test_a_manual_trigger_waits_until_released_and_passes_its_parameters_on(
    context: Context,
) -> None:
    received: list[dict[str, Any]] = []

    def deploy(args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        received.append(dict(args))
        return {"status": "success"}

    build = Build([manual_trigger("ship it?", PARAMETERS), deploy], context)
    waiting = build.wait_until_waiting()
    assert (waiting.step, waiting.prompt) == ((1,), "ship it?")
    assert waiting.parameters["replicas"] == {"type": "integer", "default": 2}
    assert waiting.parameters["ratio"] == {"type": "number", "default": 0.5}
    assert received == [] and build.thread.is_alive()

    releaser = threading.Thread(
        target=context.controls.apply,
        args=(ReleaseStep((1,), by="alice", parameters={"replicas": "3", "canary": "true"}),),
    )
    releaser.start()
    releaser.join()

    assert build.join() is BuildStatus.SUCCESS
    expected = {"version": "1.0", "replicas": 3, "canary": True, "ratio": 0.5}
    assert received == [expected]
    finished = build.reporter.finished((1,))
    assert finished is not None
    assert (finished.released_by, finished.released_parameters) == ("alice", expected)
    assert build.reporter.text((1,)) == "released by alice"


def test_a_release_whose_parameters_do_not_fit_is_refused_once_and_the_step_waits_on(
    context: Context,
) -> None:
    build = Build([manual_trigger("ship it?", PARAMETERS)], context)
    build.wait_until_waiting()

    refused = ReleaseStep((1,), by="bob", parameters={"replicas": "many"})
    context.controls.apply(refused)
    wait_for(lambda: build.reporter.text((1,)), timeout=5)
    context.controls.apply(refused)  # the server repeats commands until they are obsolete
    assert build.thread.is_alive()
    context.controls.apply(ReleaseStep((1,), by="carol", parameters={"replicas": 4}))

    assert build.join() is BuildStatus.SUCCESS
    assert build.reporter.text((1,)).splitlines() == [
        "release by bob refused: /parameters/replicas: expected an integer, got 'many'",
        "released by carol",
    ]
    assert build.reporter.finished((1,)).released_by == "carol"  # type: ignore[union-attr]


def test_killing_a_waiting_manual_trigger_ends_the_wait(context: Context) -> None:
    build = Build([manual_trigger("ship it?")], context)
    build.wait_until_waiting()

    context.controls.apply(KillStep((1,)))

    assert build.join() is BuildStatus.KILLED
    assert build.reporter.finished((1,)).status is StepStatus.KILLED  # type: ignore[union-attr]


def test_a_parameter_of_an_unknown_type_is_refused_when_the_pipeline_is_defined() -> None:
    with pytest.raises(ValueError, match="parameter 'when': unknown type 'date'"):
        manual_trigger("when?", {"when": {"type": "date"}})
