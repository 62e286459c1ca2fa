"""`manual_trigger`: a step that waits for a person.

```python
manual_trigger("ship it?", parameters={"version": {"type": "string", "default": "1.0"},
                                       "canary": {"type": "boolean", "default": False}})
```

The step reports `StepWaiting` (prompt and parameters) and blocks until the server sends
`ReleaseStep` for it. The release's parameters are checked and coerced to their types
(`string`, `integer`, `number`, `boolean`), missing ones take their defaults; a release that
does not fit is refused (said once in the step's output) and the step keeps waiting. Released, the
step succeeds with the parameters as its values (so the next step gets them in `args`) and
records who released it. A bare value instead of a spec is a default of that value's type:
`parameters={"version": "1.0"}`. Cancelling the step ends the wait: killed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.domain.build_reports import ReleaseStep, StepWaiting
from conveyor.domain.builds import Detail, StepStatus
from conveyor.domain.errors import Invalid
from conveyor.domain.manual_triggers import parameter_specs, resolve_parameters
from conveyor.pipelines.context import Context
from conveyor.pipelines.execution import execution_of
from conveyor.pipelines.steps import Args, StepFunction, StepResult


def manual_trigger(prompt: str, parameters: Mapping[str, Any] | None = None) -> StepFunction:
    specs = parameter_specs(parameters or {})

    def manual_trigger(args: Args, ctx: Context) -> StepResult:
        execution = execution_of(ctx)
        execution.report(StepWaiting(ctx.step_id, execution.clock.now(), prompt, specs))
        refused: list[ReleaseStep] = []
        while (release := ctx.controls.await_release(ctx.step_id, ctx.cancelled)) is not None:
            try:
                values = resolve_parameters(specs, release.parameters)
            except Invalid as error:
                if release not in refused:  # the server repeats a command until it is obsolete
                    refused.append(release)
                    problems = "; ".join(f"{v.path}: {v.error}" for v in error.violations)
                    ctx.print(f"release by {release.by} refused: {problems}")
                continue
            ctx.print(f"released by {release.by}")
            return StepResult(
                StepStatus.SUCCESS,
                details=(Detail(f"released by {release.by}"),),
                values=values,
                released=ReleaseStep(ctx.step_id, release.by, values),
            )
        return StepResult(StepStatus.KILLED, message=ctx.cancelled.reason)

    return manual_trigger
