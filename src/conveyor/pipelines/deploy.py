"""`deploy_app`: a step that deploys an app through the Conveyor server's API.

```python
deploy_app({"id": "/web", "cmd": "python3 -m http.server $PORT0", "instances": 2})
deploy_app(lambda args, ctx: {"id": "/web", "cmd": f"./web --version {args['version']}"})
```

The step creates the app (or replaces its definition) with `ConveyorClient(ctx.server)`,
follows the deployment until it ends, and succeeds when the deployment does. Its details name
the deployment and link each app (`/v2/apps/{id}`); its values are `deployment_id` and
`app_version`. Cancelling the step stops following the deployment (the deployment itself goes
on: cancel it with the API if that is wanted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from conveyor.domain.builds import Detail, StepStatus
from conveyor.pipelines.context import Context
from conveyor.pipelines.steps import Args, StepFunction, StepResult, failure

if TYPE_CHECKING:  # the client (and httpx) load only when a deploy step runs: workers start faster
    from conveyor.client import DeploymentProgress, DeploymentRef

AppDefinition = Mapping[str, Any] | Callable[[Args, Context], Mapping[str, Any]]


def _progress_printer(ctx: Context) -> Callable[[DeploymentProgress], None]:
    last: list[tuple[int, int]] = []

    def on_progress(progress: DeploymentProgress) -> None:
        ctx.check_cancelled()
        position = (progress.current_step, progress.total_steps)
        if last and last[-1] == position:
            return
        last.append(position)
        actions = ", ".join(f"{a.action} {a.app}" for a in progress.current_actions)
        ctx.print(f"step {position[0]} of {position[1]}: {actions}")

    return on_progress


def _details(ref: DeploymentRef) -> tuple[Detail, ...]:
    apps = tuple(Detail(app_id, href=f"/v2/apps{app_id}") for app_id in ref.app_ids)
    return (Detail("deployment", raw=ref.deployment_id), *apps)


def deploy_app(
    definition: AppDefinition, *, timeout: float = 600.0, force: bool = False
) -> StepFunction:
    def deploy_app(args: Args, ctx: Context) -> StepResult:
        from conveyor.client import ClientError, ConveyorClient

        document = definition(args, ctx) if callable(definition) else definition
        with ConveyorClient(ctx.server) as client:
            try:
                ref = client.create_or_update_app(document, force=force)
                ctx.print(f"deployment {ref.deployment_id}: {', '.join(ref.app_ids)} {ref.version}")
                outcome = client.wait_for_deployment(
                    ref.deployment_id,
                    timeout=timeout,
                    app_ids=ref.app_ids,
                    on_progress=_progress_printer(ctx),
                )
            except ClientError as error:
                return failure(error.message)
        ctx.print(outcome.message)
        values = {"deployment_id": ref.deployment_id, "app_version": ref.version}
        status = StepStatus.SUCCESS if outcome.succeeded else StepStatus.FAILURE
        message = None if outcome.succeeded else outcome.message
        return StepResult(status, details=_details(ref), values=values, message=message)

    return deploy_app
