"""`/v2/deployments`: list running deployments; cancel one by rolling back (200) or, with
`?force=true`, by simply stopping it (202)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.context import context_of, flag
from conveyor.api.marathon.apps import deployment_result
from conveyor.api.responses import FastJSONResponse
from conveyor.commands.apps import cancel, deploy, reverted
from conveyor.domain.apps import AppDefinition
from conveyor.domain.deployments import Deployment
from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import NotFound
from conveyor.domain.event_json import deployment_to_json
from conveyor.store import Transaction

router = APIRouter(include_in_schema=False)


@router.get("/v2/deployments")
async def list_deployments(request: Request) -> FastJSONResponse:
    context = context_of(request)
    with context.store.transaction() as tx:
        deployments = [d for d in tx.list_deployments() if d.is_active]
    body: list[JsonValue] = [deployment_to_json(d) for d in deployments]
    return FastJSONResponse(body)


def _active_deployment(tx: Transaction, deployment_id: str) -> Deployment:
    deployment = tx.get_deployment(deployment_id)
    if deployment is None or not deployment.is_active:
        raise NotFound(f"DeploymentPlan {deployment_id} does not exist")
    return deployment


def _original_apps(tx: Transaction, deployment: Deployment) -> dict[str, AppDefinition | None]:
    return {
        app_id: None if version is None else tx.get_app_version(app_id, version)
        for app_id, version in deployment.original.items()
    }


@router.delete("/v2/deployments/{deployment_id}")
async def cancel_deployment(request: Request, deployment_id: str) -> Response:
    context = context_of(request)
    now = context.clock.now()
    with context.store.transaction() as tx:
        deployment = _active_deployment(tx, deployment_id)
        if flag(request, "force"):
            cancel(tx, deployment, now=now)
            rollback = None
        else:
            restored = {
                app_id: None if app is None else reverted(tx.get_app(app_id), app, now=now)
                for app_id, app in _original_apps(tx, deployment).items()
            }
            rollback = deploy(tx, restored, now=now, force=True, is_rollback=True)
    context.control.wake()
    if rollback is None:
        return Response(status_code=202)
    return deployment_result(rollback)
