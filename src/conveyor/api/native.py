"""The native API under `/api`: what the CLI and the control center need beyond Marathon's
shape. Documented by OpenAPI at `/api/openapi.json` (browse it at `/api/docs`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conveyor.api.context import context_of
from conveyor.api.ended_tasks import MAX_ENDED, recently_ended
from conveyor.api.native_models import (
    DeploymentStateModel,
    ServerInfoModel,
    TaskModel,
    WaitingModel,
    task_model,
)
from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import applies_to, time_left_seconds
from conveyor.domain.errors import NotFound
from conveyor.domain.limits import MAX_LOG_OFFSET
from conveyor.domain.queue import explain_unplaced, unplaced_key
from conveyor.store import Transaction

router = APIRouter(prefix="/api", tags=["native"])

LogStreamName = Literal["stdout", "stderr"]
FOLLOW_POLL_SECONDS = 0.2


@router.get("/info", response_model=ServerInfoModel, summary="Facts about this server")
async def server_info(request: Request) -> ServerInfoModel:
    facts = context_of(request).info
    return ServerInfoModel(**facts.__dict__)


@router.get("/tasks", response_model=list[TaskModel], summary="Live tasks, with pids and limits")
async def list_tasks(
    request: Request,
    app: str | None = None,
    ended: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_ENDED,
            description="Also this many of the app's most recently ended tasks, newest first, "
            "after the live ones (their logs stay readable).",
        ),
    ] = 0,
) -> list[TaskModel]:
    context = context_of(request)
    app_id = None if app is None else "/" + app.strip("/")
    with context.store.transaction() as tx:
        instances = tx.list_instances(app_id)
        gone = recently_ended(tx, app_id, ended) if ended else []
    return [task_model(i) for i in instances if not i.state.is_terminal] + gone


def _waiting(tx: Transaction, app: AppDefinition, hosts: list[str], now: datetime) -> WaitingModel:
    live = [i for i in tx.list_instances(app.id) if i.state.is_active]
    stored = tx.get_value(unplaced_key(app.id))
    delay = tx.get_launch_delay(app.id)
    applicable = delay if delay is not None and applies_to(delay, app) else None
    hosts = sorted({*hosts, *(i.host for i in live)})
    return WaitingModel(
        app_id=app.id,
        waiting=max(app.instances - len(live), 0),
        reason=explain_unplaced(app, stored, hosts=hosts) if isinstance(stored, str) else None,
        launch_delay_seconds=time_left_seconds(applicable, now),
    )


@router.get(
    "/queue",
    response_model=list[WaitingModel],
    summary="Apps with instances waiting to launch, and why, in words",
)
async def list_waiting(request: Request, app: str | None = None) -> list[WaitingModel]:
    context = context_of(request)
    now = context.clock.now()
    with context.store.transaction() as tx:
        apps = tx.list_apps() if app is None else [tx.get_app("/" + app.strip("/"))]
        found = [_waiting(tx, a, [context.info.hostname], now) for a in apps if a is not None]
    return [item for item in found if item.waiting > 0]


@router.get(
    "/tasks/{task_id}",
    response_model=TaskModel,
    summary="One live task",
    responses={404: {"description": "No such live task"}},
)
async def get_task(request: Request, task_id: str) -> TaskModel:
    context = context_of(request)
    with context.store.transaction() as tx:
        instance = tx.get_instance(task_id)
    if instance is None:
        raise NotFound(f"Task '{task_id}' does not exist")
    return task_model(instance)


@router.get(
    "/deployments/{deployment_id}",
    response_model=DeploymentStateModel,
    summary="Whether a deployment runs, or how it ended",
    responses={404: {"description": "No such deployment"}},
)
async def deployment_state(request: Request, deployment_id: str) -> DeploymentStateModel:
    with context_of(request).store.transaction() as tx:
        running = tx.get_deployment(deployment_id)
        outcome = tx.get_deployment_outcome(deployment_id)
    if running is not None and running.is_active:
        return DeploymentStateModel(id=deployment_id, status="running")
    if outcome is not None:
        return DeploymentStateModel(id=deployment_id, status=outcome.value)
    raise NotFound(f"DeploymentPlan {deployment_id} does not exist")


def _task_exists(request: Request, task_id: str) -> None:
    context = context_of(request)
    with context.store.transaction() as tx:
        known = tx.get_instance(task_id) is not None
    if not known:
        # ended tasks are forgotten by the store but their logs stay with the engine
        context.control.read_log(task_id, "stdout", offset=0, limit=0)


@router.get(
    "/tasks/{task_id}/logs",
    summary="A task's output",
    response_class=Response,
    responses={
        200: {
            "description": "Plain text from `offset` (the next offset is in the "
            "`X-Log-Offset` header), or with `Accept: text/event-stream` a live stream of "
            "`log` events that starts with what is already written.",
            "content": {"text/plain": {}, "text/event-stream": {}},
        },
        404: {"description": "No such task"},
    },
)
async def task_logs(
    request: Request,
    task_id: str,
    *,
    stream: LogStreamName = "stdout",
    offset: Annotated[int, Query(ge=0, le=MAX_LOG_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=0, le=16 << 20)] = 1 << 20,
    follow: bool = False,
) -> Response:
    _task_exists(request, task_id)
    control = context_of(request).control
    if follow or "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _follow(request, task_id, stream, offset),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    data, next_offset = control.read_log(task_id, stream, offset=offset, limit=limit)
    return Response(
        data, media_type="text/plain; charset=utf-8", headers={"X-Log-Offset": str(next_offset)}
    )


async def _follow(request: Request, task_id: str, stream: str, offset: int) -> AsyncIterator[bytes]:
    """SSE `log` events, one per line, `id:` carrying the offset after the line."""
    control = context_of(request).control
    partial = b""
    while not await request.is_disconnected():
        try:
            data, offset = control.read_log(task_id, stream, offset=offset, limit=1 << 20)
        except NotFound:
            return
        if not data:
            yield b": idle\n\n"
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            continue
        *lines, partial = (partial + data).split(b"\n")
        for line in lines:
            text = line.decode("utf-8", errors="replace").replace("\r", "")
            yield f"event: log\nid: {offset - len(partial)}\ndata: {text}\n\n".encode()
