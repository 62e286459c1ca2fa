"""The native API for pipelines and builds (`/api/pipelines/...`): register pipelines, trigger,
list and inspect builds, retrigger, kill, release manual steps, and the endpoint build workers
report to. A step's output is read through `api/step_output.py`."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.context import context_of, read_json
from conveyor.api.pipeline_models import (
    BuildDetail,
    BuildPage,
    PipelineIn,
    PipelineOut,
    ReleaseIn,
    RetriggerIn,
    TriggerIn,
    build_detail,
    build_summary,
    pipeline_out,
    polling_error,
)
from conveyor.api.repositories import check_repository, local_branch_head, resolve_commit
from conveyor.api.responses import FastJSONResponse
from conveyor.commands.builds import add_command, request_build
from conveyor.domain.build_reports import (
    KillBuild,
    KillStep,
    ReleaseStep,
    command_to_json,
    commands_from_json,
    reports_from_json,
)
from conveyor.domain.builds import (
    Build,
    Retriggered,
    StepId,
    StepRecord,
    StepStatus,
    Trigger,
    TriggerKind,
    format_step_id,
    parse_step_id,
    pending_commands_key,
    pipeline_key_prefixes,
)
from conveyor.domain.errors import Conflict, Invalid, NotFound, Violation
from conveyor.domain.limits import MAX_BUILD_NUMBER
from conveyor.domain.manual_triggers import resolve_parameters
from conveyor.domain.pipelines import PipelineDefinition, check_pipeline
from conveyor.domain.webhooks import polling_error_key, seen_commit_key, seen_commits_prefix
from conveyor.store import Transaction

router = APIRouter(prefix="/api/pipelines", tags=["pipelines"])

BuildNumber = Annotated[int, Path(ge=1, le=MAX_BUILD_NUMBER, description="The build's number")]


def _pipeline(tx: Transaction, name: str) -> PipelineDefinition:
    pipeline = tx.get_pipeline(name)
    if pipeline is None:
        raise NotFound(f"Pipeline '{name}' does not exist")
    return pipeline


def existing_build(tx: Transaction, name: str, number: int) -> Build:
    _pipeline(tx, name)
    build = tx.get_build(name, number)
    if build is None:
        raise NotFound(f"Build {name} #{number} does not exist")
    return build


def step_id_of(text: str) -> StepId:
    try:
        return parse_step_id(text)
    except ValueError as error:
        raise Invalid([Violation("/step", "expected a step id such as '3' or '2.1'")]) from error


def _last_build(tx: Transaction, name: str) -> Build | None:
    builds = tx.list_builds(name, limit=1)
    return builds[0] if builds else None


def _pipeline_out(tx: Transaction, pipeline: PipelineDefinition) -> PipelineOut:
    """The pipeline with its last build and its polling error."""
    error = polling_error(tx.get_value(polling_error_key(pipeline.name)))
    return pipeline_out(pipeline, _last_build(tx, pipeline.name), error=error)


@router.post("", status_code=201, response_model=PipelineOut, summary="Register a pipeline")
async def register_pipeline(request: Request, body: PipelineIn) -> PipelineOut:
    context = context_of(request)
    pipeline = check_pipeline(body.definition(context.clock.now()))
    check_repository(pipeline.repository)
    # watching starts here: the first poll builds only what is pushed after this
    head = await local_branch_head(pipeline.repository, pipeline.branch)
    with context.store.transaction() as tx:
        if tx.get_pipeline(pipeline.name) is not None:
            raise Conflict(f"Pipeline '{pipeline.name}' already exists; PUT changes it")
        tx.put_pipeline(pipeline)
        if head is not None:
            tx.put_value(seen_commit_key(pipeline.name, pipeline.branch), head)
    context.control.wake()
    return pipeline_out(pipeline, None)


@router.put("/{name}", response_model=PipelineOut, summary="Register or change a pipeline")
async def put_pipeline(request: Request, name: str, body: PipelineIn) -> PipelineOut:
    context = context_of(request)
    if body.name != name:
        raise Invalid([Violation("/name", "must match the name in the path")])
    pipeline = check_pipeline(body.definition(context.clock.now()))
    check_repository(pipeline.repository)
    with context.store.transaction() as tx:
        tx.put_pipeline(pipeline)
        tx.delete_values(polling_error_key(name))  # the next check tells about the new settings
        out = _pipeline_out(tx, pipeline)
    context.control.wake()
    return out


@router.get("", response_model=list[PipelineOut], summary="Every pipeline, with its last build")
async def list_pipelines(request: Request) -> list[PipelineOut]:
    with context_of(request).store.transaction() as tx:
        return [_pipeline_out(tx, p) for p in tx.list_pipelines()]


@router.get("/{name}", response_model=PipelineOut, summary="One pipeline")
async def get_pipeline(request: Request, name: str) -> PipelineOut:
    with context_of(request).store.transaction() as tx:
        return _pipeline_out(tx, _pipeline(tx, name))


@router.delete("/{name}", status_code=204, summary="Forget a pipeline and its history")
async def delete_pipeline(request: Request, name: str) -> Response:
    with context_of(request).store.transaction() as tx:
        _pipeline(tx, name)
        running = [b.number for b in tx.list_unfinished_builds() if b.pipeline == name]
        if running:
            raise Conflict(f"Pipeline '{name}' has unfinished builds {running}; kill them first")
        tx.delete_pipeline(name)
        for prefix in (*pipeline_key_prefixes(name), seen_commits_prefix(name)):
            tx.delete_values(prefix=prefix)
        tx.delete_values(polling_error_key(name))
    return Response(status_code=204)


@router.post(
    "/{name}/builds", status_code=201, response_model=BuildDetail, summary="Trigger a build"
)
async def trigger_build(request: Request, name: str, body: TriggerIn) -> BuildDetail:
    """A `commit` the pipeline's repository lacks is refused (422, `/commit`) when the
    repository is on this machine; otherwise the build fails saying so."""
    context = context_of(request)
    with context.store.transaction() as tx:
        repository = _pipeline(tx, name).repository
    commit = body.commit
    if commit is not None and not commit.strip():
        raise Invalid(
            [Violation("/commit", "must be a commit id (or left out: the branch's head)")]
        )
    if commit is not None:
        commit = await resolve_commit(repository, commit) or commit
    trigger = Trigger(
        kind=TriggerKind.MANUAL, by=body.by, commit=commit, parameters=body.parameters
    )
    with context.store.transaction() as tx:
        build = request_build(tx, _pipeline(tx, name), trigger=trigger, now=context.clock.now())
    context.control.wake()
    assert build is not None  # manual builds are never deduplicated
    return build_detail(build, [])


@router.get("/{name}/builds", response_model=BuildPage, summary="Builds, newest first")
async def list_builds(
    request: Request,
    name: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_BUILD_NUMBER, description="Only builds numbered below")
    ] = None,
) -> BuildPage:
    with context_of(request).store.transaction() as tx:
        _pipeline(tx, name)
        builds = tx.list_builds(name, before=before, limit=limit)
    next_before = builds[-1].number if len(builds) == limit else None
    return BuildPage(builds=[build_summary(b) for b in builds], next_before=next_before)


@router.get(
    "/{name}/builds/{number}", response_model=BuildDetail, summary="A build with its step tree"
)
async def get_build(request: Request, name: str, number: BuildNumber) -> BuildDetail:
    with context_of(request).store.transaction() as tx:
        build = existing_build(tx, name, number)
        steps = tx.list_steps(name, number)
    return build_detail(build, steps)


@router.post(
    "/{name}/builds/{number}/retrigger",
    status_code=201,
    response_model=BuildDetail,
    summary="Run a build again from one of its steps",
)
async def retrigger(
    request: Request, name: str, number: BuildNumber, body: RetriggerIn
) -> BuildDetail:
    context = context_of(request)
    step = step_id_of(body.step)
    with context.store.transaction() as tx:
        original = existing_build(tx, name, number)
        if not original.status.is_final:
            raise Conflict(f"Build {name} #{number} has not ended yet")
        if tx.get_step(name, number, step) is None:
            raise Invalid([Violation("/step", f"build #{number} has no step {body.step}")])
        trigger = Trigger(
            kind=TriggerKind.RETRIGGER,
            by=body.by,
            commit=original.commit,
            parameters=original.trigger.parameters,
        )
        build = request_build(
            tx,
            _pipeline(tx, name),
            trigger=trigger,
            now=context.clock.now(),
            retriggered=Retriggered(number=number, step=step),
        )
        assert build is not None
    context.control.wake()
    return build_detail(build, [])


@router.post("/{name}/builds/{number}/kill", status_code=202, summary="Kill a build")
async def kill_build(request: Request, name: str, number: BuildNumber) -> Response:
    context = context_of(request)
    with context.store.transaction() as tx:
        build = existing_build(tx, name, number)
        if build.status.is_final:
            raise Conflict(f"Build {name} #{number} has already ended ({build.status.value})")
        add_command(tx, build, KillBuild(reason="killed through the API"))
    context.control.wake()
    return Response(status_code=202)


def _running_step(tx: Transaction, build: Build, step: StepId, text: str) -> StepStatus:
    record = tx.get_step(build.pipeline, build.number, step)
    if record is None:
        raise NotFound(f"Build {build.pipeline} #{build.number} has no step {text}")
    return record.status


@router.post("/{name}/builds/{number}/steps/{step}/kill", status_code=202, summary="Kill a step")
async def kill_step(request: Request, name: str, number: BuildNumber, step: str) -> Response:
    context = context_of(request)
    step_id = step_id_of(step)
    with context.store.transaction() as tx:
        build = existing_build(tx, name, number)
        status = _running_step(tx, build, step_id, step)
        if status.is_final or build.status.is_final:
            raise Conflict(f"Step {step} of build #{number} has already ended")
        add_command(tx, build, KillStep(step=step_id))
    context.control.wake()
    return Response(status_code=202)


def _check_releasable(tx: Transaction, build: Build, record: StepRecord) -> None:
    """Conflict unless the manual step waits and nobody has released it yet (a release is
    pending until the worker takes it)."""
    step = format_step_id(record.step)
    where = f"Step {step} of build {build.pipeline} #{build.number}"
    released_by = record.manual.released_by if record.manual is not None else None
    if released_by is not None:
        raise Conflict(f"{where} was already released by {released_by}")
    if record.status is not StepStatus.WAITING:
        raise Conflict(f"{where} is not waiting (it is {record.status.value})")
    stored = tx.get_value(pending_commands_key(build.pipeline, build.number))
    for command in commands_from_json(stored if isinstance(stored, list) else []):
        if isinstance(command, ReleaseStep) and command.step == record.step:
            raise Conflict(f"{where} was already released by {command.by}")


@router.post(
    "/{name}/builds/{number}/steps/{step}/release",
    summary="Release a manual trigger that waits",
)
async def release_step(
    request: Request, name: str, number: BuildNumber, step: str, body: ReleaseIn
) -> FastJSONResponse:
    context = context_of(request)
    step_id = step_id_of(step)
    with context.store.transaction() as tx:
        build = existing_build(tx, name, number)
        record = tx.get_step(name, number, step_id)
        if record is None or record.manual is None:
            raise NotFound(f"Build {name} #{number} has no manual step {step}")
        _check_releasable(tx, build, record)
        parameters = resolve_parameters(record.manual.parameters, body.parameters)
        add_command(tx, build, ReleaseStep(step=step_id, by=body.by, parameters=parameters))
    context.control.wake()
    return FastJSONResponse({"released": step, "by": body.by, "parameters": parameters})


@router.post(
    "/{name}/builds/{number}/reports",
    summary="Where a build's worker reports (not for people)",
    description="Body: a JSON list of numbered reports; answer: the last applied number and "
    "the commands waiting for the worker. Needs the build's token as a bearer token.",
)
async def receive_reports(request: Request, name: str, number: BuildNumber) -> FastJSONResponse:
    context = context_of(request)
    with context.store.transaction() as tx:
        build = tx.get_build(name, number)
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if (
        build is None
        or not build.worker_token
        or not hmac.compare_digest(token, build.worker_token)
    ):
        return FastJSONResponse({"message": "unknown build or wrong token"}, status_code=403)
    reports = reports_from_json(await read_json(request))
    applied, commands = context.control.ingest_reports(name, number, reports)
    return FastJSONResponse(
        {"applied": applied, "commands": [command_to_json(c) for c in commands]}
    )
