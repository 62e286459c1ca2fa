"""Steps and what they return.

A step is a function `(args, ctx) -> StepResult | dict`. `args` holds what the previous step
returned besides status/output/details (and every `global` value returned before); `ctx` is the
step's `Context`. A dict result needs a `"status"`; its other keys are the step's values.
Control flow (`in_parallel`, `either`, ...) returns a `ControlFlow`: a step that knows its
children, so the pipeline's structure can be shown before it runs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from conveyor.domain.build_reports import ReleaseStep, detail_from_json
from conveyor.domain.builds import Detail, StepId, StepStatus

if TYPE_CHECKING:
    from conveyor.pipelines.context import Context

Args: TypeAlias = Mapping[str, Any]
StepFunction: TypeAlias = "Callable[[Args, Context], Any]"
"""What a step is: called with the args and the context; returns a `StepResult` or a dict."""

RESERVED_KEYS = frozenset({"status", "output", "details"})
FINAL_STATUSES = frozenset({StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.KILLED})


@dataclass(frozen=True)
class StepResult:
    status: StepStatus
    output: str = ""
    """Text added to the step's output when it ends (the shell step streams instead)."""
    details: tuple[Detail, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    """Flow into the next step's args; `values["global"]` (a dict) into every later step's."""
    message: str | None = None
    """Why it failed or was killed, in a few words ("exit code 2")."""
    released: ReleaseStep | None = None
    """For a manual trigger: who released it, with which parameters."""
    failed_steps: tuple[StepId, ...] = ()
    """Set by the executor: the steps whose failure this result comes from (this step itself
    when none inside it failed; a junction's condition it handled is not one)."""

    def __post_init__(self) -> None:
        # Authors may pass "success" and a list of details: store the enum and a tuple.
        status: object = self.status
        if not isinstance(status, StepStatus):
            object.__setattr__(self, "status", StepStatus(str(status)))
        details: object = self.details
        if not isinstance(details, tuple):
            object.__setattr__(self, "details", tuple(self.details))

    @property
    def is_success(self) -> bool:
        return self.status is StepStatus.SUCCESS


def failure(message: str, output: str = "") -> StepResult:
    return StepResult(StepStatus.FAILURE, output=output, message=message)


@dataclass(frozen=True, eq=False)
class ControlFlow:
    """A step made of steps: `run` executes `children` (the k-th child's id is the control-flow
    step's id plus `(k,)`)."""

    name: str
    children: tuple[StepFunction, ...]
    run: Callable[[Args, Context], StepResult]

    def __call__(self, args: Args, ctx: Context) -> StepResult:
        return self.run(args, ctx)


def step_name(step: StepFunction) -> str:
    if isinstance(step, ControlFlow):
        return step.name
    if isinstance(step, functools.partial):
        return step_name(step.func)
    return str(getattr(step, "__name__", None) or type(step).__name__)


def json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as JSON would carry them (what a retriggered build gets back): tuples become
    lists, anything else JSON lacks becomes its `str`."""
    if not values:
        return {}
    converted: dict[str, Any] = json.loads(json.dumps(dict(values), default=str))
    return converted


def to_step_result(outcome: object) -> StepResult:
    """Whatever a step returned, as a `StepResult` with a final status."""
    if isinstance(outcome, StepResult):
        result = outcome
    elif isinstance(outcome, Mapping):
        result = _from_mapping(outcome)
    else:
        return failure("step returned no status")
    if result.status not in FINAL_STATUSES:
        return failure(f"step ended with status {result.status.value!r}", result.output)
    if result.values:
        return StepResult(
            result.status,
            result.output,
            result.details,
            json_values(result.values),
            result.message,
            result.released,
        )
    return result


def _from_mapping(outcome: Mapping[str, Any]) -> StepResult:
    status = outcome.get("status")
    if status is None:
        return failure("step returned no status", str(outcome.get("output") or ""))
    try:
        step_status = StepStatus(status)
    except ValueError:
        return failure(f"step returned an unknown status {status!r}")
    details = tuple(
        d if isinstance(d, Detail) else detail_from_json(d) for d in outcome.get("details") or ()
    )
    values = {k: v for k, v in outcome.items() if k not in RESERVED_KEYS}
    return StepResult(step_status, str(outcome.get("output") or ""), details, values)
