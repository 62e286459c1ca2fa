"""`POST /hooks/git`: git hosts (GitHub, GitLab, Gitea, or anything that posts the generic JSON
body) announce pushes here; each pipeline of the pushed repository and branch gets a build of
exactly the pushed commit.

    202 {"builds": [{"pipeline": "app", "number": 7}]}
    202 {"builds": [], "ignored": "ping"}                      a ping, a tag, another event, ...
    401 {"message": "signature does not match for pipeline app"}
    400 / 422                                                  an unreadable or incomplete push

A pipeline with a `secret` only accepts deliveries signed with it; a push that only such
pipelines match, none of which accepts the signature, is refused as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from conveyor.api.context import context_of
from conveyor.commands.builds import request_build
from conveyor.domain.builds import Build, Trigger, TriggerKind
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.domain.webhooks import (
    Ignored,
    Push,
    matching_pipelines,
    parse_push,
    verify_signature,
)

router = APIRouter(tags=["hooks"])


@router.post("/hooks/git", status_code=202, summary="Receive a push from a git host")
async def receive_push(request: Request) -> JSONResponse:
    context = context_of(request)
    body = await request.body()
    push = parse_push(request.headers, body)
    if isinstance(push, Ignored):
        return _accepted([], ignored=push.reason)
    with context.store.transaction() as tx:
        matched = matching_pipelines(push, tx.list_pipelines())
        accepted = [p for p in matched if _accepts(p, request.headers, body)]
        rejected = [p for p in matched if p not in accepted]
        if rejected and not accepted:
            message = f"signature does not match for pipeline {rejected[0].name}"
            return JSONResponse({"message": message}, status_code=401)
        trigger = Trigger(
            kind=TriggerKind.WEBHOOK, by=push.provider.value, commit=push.after, ref=push.ref
        )
        now = context.clock.now()
        requested = [request_build(tx, p, trigger=trigger, now=now) for p in accepted]
    builds = [build for build in requested if build is not None]
    if builds:
        context.control.wake()
    return _accepted(builds, ignored=_why_nothing_was_built(push, matched, builds))


def _accepts(pipeline: PipelineDefinition, headers: Mapping[str, str], body: bytes) -> bool:
    return not pipeline.secret or verify_signature(headers, body, pipeline.secret)


def _why_nothing_was_built(
    push: Push, matched: list[PipelineDefinition], builds: list[Build]
) -> str | None:
    if builds:
        return None
    if not matched:
        return f"no pipeline builds branch {push.branch!r} of {push.repository_urls[0]}"
    return (
        f"commit {push.after} was seen already: built, queued, or the branch's head when the "
        "pipeline was added"
    )


def _accepted(builds: list[Build], *, ignored: str | None) -> JSONResponse:
    content: dict[str, object] = {
        "builds": [{"pipeline": build.pipeline, "number": build.number} for build in builds]
    }
    if ignored is not None:
        content["ignored"] = ignored
    return JSONResponse(content, status_code=202)
