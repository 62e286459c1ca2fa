"""`GET /v2/events`: Marathon's event stream (Server-Sent Events). `event_type` filters (may be
repeated); the stream opens with `event_stream_attached` and sends a comment line every few
seconds so idle connections stay open and dead ones are noticed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import StreamingResponse

from conveyor.api.context import context_of
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonObject
from conveyor.domain.errors import Unavailable
from conveyor.store import TimedBatches

router = APIRouter(include_in_schema=False)

KEEPALIVE_SECONDS = 5.0


def sse_message(event_type: str, payload: JsonObject) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {event_type}\ndata: {data}\n\n".encode()


@router.get("/v2/events")
async def event_stream(request: Request) -> StreamingResponse:
    context = context_of(request)
    wanted = set(request.query_params.getlist("event_type"))
    remote = request.client.host if request.client else ""

    async def stream() -> AsyncIterator[bytes]:
        attached: JsonObject = {
            "eventType": "event_stream_attached",
            "timestamp": format_timestamp(context.clock.now()),
            "remoteAddress": remote,
        }
        if not wanted or "event_stream_attached" in wanted:
            yield sse_message("event_stream_attached", attached)
        batches = TimedBatches(context.store.subscribe())
        try:
            while True:
                batch = await batches.next(KEEPALIVE_SECONDS)
                if batch is None:
                    yield b": keepalive\n\n"
                    continue
                for event in batch:
                    if not wanted or event.type in wanted:
                        yield sse_message(event.type, event.payload)
        except (Unavailable, StopAsyncIteration):
            # fell too far behind, or the store closed: end the stream; the client reconnects,
            # as after any drop
            return
        finally:
            await batches.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
