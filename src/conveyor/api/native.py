"""The native API under `/api`: what the CLI and the control center need beyond Marathon's
shape. Documented by OpenAPI at `/api/openapi.json` (browse it at `/api/docs`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conveyor.api.context import context_of
from conveyor.domain.errors import NotFound

router = APIRouter(prefix="/api", tags=["native"])

LogStreamName = Literal["stdout", "stderr"]
FOLLOW_POLL_SECONDS = 0.2


class ServerInfoModel(BaseModel):
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
