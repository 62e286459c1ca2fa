"""`/v2/deployments`: list running deployments; cancel one by rolling back (200) or, with
`?force=true`, by simply stopping it (202)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.changes import deploy, reverted
from conveyor.api.context import context_of, flag
from conveyor.api.marathon.apps import deployment_result
from conveyor.api.responses import FastJSONResponse
from conveyor.domain.apps import AppDefinition
from conveyor.domain.deployments import DeploymentStatus, outcome_key
from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import NotFound
from conveyor.domain.event_json import deployment_ended_event, deployment_to_json
from conveyor.store import Transaction

router = APIRouter(include_in_schema=False)


@router.get("/v2/deployments")
async def list_deployments(request: Request) -> FastJSONResponse:
    context = context_of(request)
    with context.store.transaction() as tx:
        deployments = [d for d in tx.list_deployments() if d.is_active]
    body: list[JsonValue] = [deployment_to_json(d) for d in deployments]
    return FastJSONResponse(body)


def _original_apps(tx: Transaction, deployment_id: str) -> dict[str, AppDefinition | None]:
    deployment = tx.get_deployment(deployment_id)
    if deployment is None or not deployment.is_active:
        raise NotFound(f"DeploymentPlan {deployment_id} does not exist")
    changes: dict[str, AppDefinition | None] = {}
    for app_id, version in deployment.original.items():
        changes[app_id] = None if version is None else tx.get_app_version(app_id, version)
    return changes


@router.delete("/v2/deployments/{deployment_id}")
async def cancel_deployment(request: Request, deployment_id: str) -> Response:
    context = context_of(request)
    now = context.clock.now()
    with context.store.transaction() as tx:
        originals = _original_apps(tx, deployment_id)
        if flag(request, "force"):
            deployment = tx.get_deployment(deployment_id)
            assert deployment is not None
            tx.delete_deployment(deployment_id)
            tx.put_value(outcome_key(deployment_id), DeploymentStatus.CANCELED.value)
            payload = deployment_ended_event(deployment, success=False, at=now)
            tx.append_event("deployment_failed", payload, at=now)
            rollback = None
        else:
            restored = {
                app_id: None if app is None else reverted(tx.get_app(app_id), app, now=now)
                for app_id, app in originals.items()
            }
            rollback = deploy(tx, restored, now=now, force=True, is_rollback=True)
    context.control.wake()
    if rollback is None:
        return Response(status_code=202)
    return deployment_result(rollback)
