"""`GET /api/pipelines/{name}/builds/{number}/steps/{step}/output`: a step's output as text, or
live as Server-Sent Events that start with what is stored. A step reused by a retriggered build
shows the output of the build that ran it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conveyor.api.context import context_of
from conveyor.api.pipelines import BuildNumber, existing_build, step_id_of
from conveyor.domain.builds import Build, StepId, StepRecord
from conveyor.domain.clock import format_timestamp
from conveyor.domain.errors import NotFound
from conveyor.store import Transaction

router = APIRouter(prefix="/api/pipelines", tags=["pipelines"])

OUTPUT_PAGE = 1000
FOLLOW_POLL_SECONDS = 0.1


def _output_pages(request: Request, name: str, number: int, step: StepId) -> Iterator[bytes]:
    store = context_of(request).store
    after = 0
    while True:
        with store.transaction() as tx:
            lines = tx.list_output(name, number, step, after=after, limit=OUTPUT_PAGE)
        if not lines:
            return
        after = lines[-1].seq
        yield "".join(line.text + "\n" for line in lines).encode()


async def _follow_output(
    request: Request, name: str, number: int, step: StepId
) -> AsyncIterator[bytes]:
    """SSE: every stored line (event `line`, id = its number, data = {at, text}), then new lines
    as they arrive; event `end` once the step is over and everything is sent."""
    store = context_of(request).store
    after = 0
    while not await request.is_disconnected():
        with store.transaction() as tx:
            lines = tx.list_output(name, number, step, after=after, limit=OUTPUT_PAGE)
            record = tx.get_step(name, number, step) if not lines else None
        for line in lines:
            data = json.dumps({"at": format_timestamp(line.at), "text": line.text})
            yield f"event: line\nid: {line.seq}\ndata: {data}\n\n".encode()
            after = line.seq
        if lines:
            continue
        if record is not None and record.status.is_final:
            yield b"event: end\ndata: {}\n\n"
            return
        yield b": waiting\n\n"
        await asyncio.sleep(FOLLOW_POLL_SECONDS)


@router.get(
    "/{name}/builds/{number}/steps/{step}/output",
    summary="A step's output",
    response_class=Response,
    responses={
        200: {
            "description": "Text, one line per output line, or with `Accept: text/event-stream` "
            "a live stream that starts with what is already stored.",
            "content": {"text/plain": {}, "text/event-stream": {}},
        }
    },
)
async def step_output(request: Request, name: str, number: BuildNumber, step: str) -> Response:
    """A step reused by a retriggered build shows the output of the build it was taken from."""
    step_id = step_id_of(step)
    with context_of(request).store.transaction() as tx:
        build = existing_build(tx, name, number)
        record = tx.get_step(name, number, step_id)
        if record is None:
            raise NotFound(f"Build {name} #{number} has no step {step}")
        source = _output_source(tx, build, record)
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _follow_output(request, name, source, step_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    return StreamingResponse(
        _output_pages(request, name, source, step_id), media_type="text/plain; charset=utf-8"
    )


def _output_source(tx: Transaction, build: Build, record: StepRecord) -> int:
    """The number of the build whose run of the step printed its output: back along the
    retriggers while the step was reused, as far as those builds are still kept."""
    while record.reused and build.retriggered is not None:
        earlier = tx.get_build(build.pipeline, build.retriggered.number)
        earlier_record = tx.get_step(build.pipeline, build.retriggered.number, record.step)
        if earlier is None or earlier_record is None:
            break
        build, record = earlier, earlier_record
    return build.number
