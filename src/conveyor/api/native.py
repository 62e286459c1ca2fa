"""The native API under `/api`: what the CLI and the control center need beyond Marathon's
shape. Documented by OpenAPI at `/api/openapi.json` (browse it at `/api/docs`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conveyor.api.context import context_of
from conveyor.domain.clock import format_timestamp
from conveyor.domain.errors import NotFound
from conveyor.domain.instances import Instance

router = APIRouter(prefix="/api", tags=["native"])

LogStreamName = Literal["stdout", "stderr"]
FOLLOW_POLL_SECONDS = 0.2


class CamelModel(BaseModel):
    """Every body of `/api` is camelCase, as Marathon's `/v2` and the pipelines API are
    (`dataDir`, `appId`, `memBytes`); Python code still builds them by field name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ServerInfoModel(CamelModel):
    version: str
    listen: str
    hostname: str
    data_dir: str
    database: str
    engine: str


@router.get("/info", response_model=ServerInfoModel, summary="Facts about this server")
async def server_info(request: Request) -> ServerInfoModel:
    facts = context_of(request).info
    return ServerInfoModel(**facts.__dict__)


class LimitsModel(CamelModel):
    method: str
    mem_bytes: int | None
    cpu_shares: int | None
    cpu_quota_us: int | None
    notes: list[str]


class TaskModel(CamelModel):
    id: str
    app_id: str
    state: str
    host: str
    ports: list[int]
    pid: int | None
    version: str
    staged_at: str
    started_at: str | None
    healthy: bool | None
    limits: LimitsModel | None
    """What the engine applied: cgroup-v2, cgroup-v1, rlimit or none, and the figures."""


def task_model(instance: Instance) -> TaskModel:
    limits = instance.limits
    return TaskModel(
        id=instance.id,
        app_id=instance.app_id,
        state=instance.state.value,
        host=instance.host,
        ports=list(instance.ports),
        pid=instance.pid,
        version=format_timestamp(instance.version),
        staged_at=format_timestamp(instance.staged_at),
        started_at=format_timestamp(instance.started_at) if instance.started_at else None,
        healthy=instance.is_healthy if instance.health else None,
        limits=None
        if limits is None
        else LimitsModel(
            method=limits.method,
            mem_bytes=limits.mem_bytes,
            cpu_shares=limits.cpu_shares,
            cpu_quota_us=limits.cpu_quota_us,
            notes=list(limits.notes),
        ),
    )


@router.get("/tasks", response_model=list[TaskModel], summary="Live tasks, with pids and limits")
async def list_tasks(request: Request, app: str | None = None) -> list[TaskModel]:
    context = context_of(request)
    app_id = None if app is None else "/" + app.strip("/")
    with context.store.transaction() as tx:
        instances = tx.list_instances(app_id)
    return [task_model(i) for i in instances if not i.state.is_terminal]


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


class DeploymentStateModel(CamelModel):
    id: str
    status: str
    """running, succeeded or canceled"""


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
    offset: Annotated[int, Query(ge=0)] = 0,
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
