"""`/v2/apps`: create, read, update, scale, restart, roll back and delete apps, and their tasks
and versions. App ids contain slashes: the routes take them with Starlette's `path` convertor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson
from fastapi import APIRouter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.context import context_of, flag, read_json
from conveyor.api.marathon.listing import listing_of
from conveyor.api.marathon.render import (
    ALWAYS_FOR_LIST,
    ALWAYS_FOR_ONE,
    EMBED_LAST_FAILURE,
    EMBED_TASKS,
    Snapshot,
    parse_embeds,
    render_app,
)
from conveyor.api.marathon.selectors import parse_label_selector
from conveyor.api.marathon.tasks import render_tasks
from conveyor.api.responses import FastJSONResponse
from conveyor.commands.apps import deploy, request_kills, restarted, reverted, scaled_by
from conveyor.domain.app_json import UpdateKind, app_from_json, app_to_json, classify_update
from conveyor.domain.apps import AppDefinition
from conveyor.domain.clock import format_timestamp, parse_timestamp
from conveyor.domain.deployments import Deployment
from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import Conflict, Invalid, MalformedInput, NotFound, Violation
from conveyor.domain.event_json import api_post_event
from conveyor.domain.limits import MAX_APPS_PER_REQUEST
from conveyor.domain.paths import normalize_path
from conveyor.domain.task_json import task_to_json
from conveyor.store import Transaction

router = APIRouter(include_in_schema=False)


def deployment_result(deployment: Deployment, *, status: int = 200) -> FastJSONResponse:
    body = {"deploymentId": deployment.id, "version": format_timestamp(deployment.version)}
    return FastJSONResponse(
        body, status_code=status, headers={"Marathon-Deployment-Id": deployment.id}
    )


def app_not_found(app_id: str) -> NotFound:
    return NotFound(f"App '{app_id}' does not exist")


def existing_app(tx: Transaction, app_id: str) -> AppDefinition:
    app = tx.get_app(app_id)
    if app is None:
        raise app_not_found(app_id)
    return app


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/v2/apps")
async def list_apps(request: Request) -> Response:
    context = context_of(request)
    embeds = parse_embeds(request.query_params.getlist("embed")) | ALWAYS_FOR_LIST
    if EMBED_TASKS in embeds:
        return _list_apps_with_tasks(request, embeds)
    listing = listing_of(context.store)
    with context.store.transaction() as tx:
        fleet = listing.fleet(tx, failures=EMBED_LAST_FAILURE in embeds)
    query = str(request.url.query)
    body = listing.body(fleet, query, embeds, _selection(request))
    return Response(body, media_type="application/json")


def _list_apps_with_tasks(request: Request, embeds: set[str]) -> Response:
    """Task lists show health timestamps, which change without events: read and render all."""
    with context_of(request).store.transaction() as tx:
        selected = _selection(request)
        apps = [app for app in tx.list_apps() if selected(app)]
        failures = EMBED_LAST_FAILURE in embeds
        snapshot = Snapshot.read(tx, {a.id for a in apps}, failures=failures)
    body = orjson.dumps({"apps": [render_app(app, snapshot, embeds) for app in apps]})
    return Response(body, media_type="application/json")


def _selection(request: Request) -> Callable[[AppDefinition], bool]:
    """Which apps the query asks for (`id`, `cmd` substrings, a `label` selector read once)."""
    params = request.query_params
    id_part, cmd_part = params.get("id"), params.get("cmd")
    predicates = parse_label_selector(params["label"]) if "label" in params else []

    def selected(app: AppDefinition) -> bool:
        if id_part is not None and id_part not in app.id:
            return False
        if cmd_part is not None and cmd_part not in (app.cmd or ""):
            return False
        return all(predicate(app.labels) for predicate in predicates)

    return selected


@router.post("/v2/apps")
async def create_app(request: Request) -> FastJSONResponse:
    context = context_of(request)
    document = await read_json(request)
    now = context.clock.now()
    app = app_from_json(document, base=None, version=now)
    with context.store.transaction() as tx:
        if tx.get_app(app.id) is not None:
            raise Conflict(f"An app with id [{app.id}] already exists.")
        deployment = deploy(tx, {app.id: app}, now=now, force=flag(request, "force"))
        stored = existing_app(tx, app.id)
        _announce(tx, request, stored)
    context.control.wake()
    snapshot = Snapshot()  # a new app has no tasks yet, only its deployment
    snapshot.deployments[app.id] = (deployment.id,)
    body = render_app(stored, snapshot, set(ALWAYS_FOR_ONE))
    headers = {"Location": f"/v2/apps{app.id}", "Marathon-Deployment-Id": deployment.id}
    return FastJSONResponse(body, status_code=201, headers=headers)


def _announce(tx: Transaction, request: Request, app: AppDefinition) -> None:
    payload = api_post_event(
        app_to_json(app), client_ip=_client_ip(request), uri=request.url.path, at=app.version
    )
    tx.append_event("api_post_event", payload, at=app.version)


def _updated_app(
    tx: Transaction, document: JsonValue, app_id: str, request: Request
) -> AppDefinition:
    """The new version a PUT/PATCH body asks for: a scale, a rollback or a change."""
    now = context_of(request).clock.now()
    current = tx.get_app(app_id)
    kind = classify_update(document)
    if kind is UpdateKind.ROLLBACK and isinstance(document, dict):
        if current is None:
            raise app_not_found(app_id)
        return _rolled_back(tx, current, str(document["version"]), now=now)
    partial = request.method == "PATCH" or request.query_params.get("partialUpdate") != "false"
    if isinstance(document, dict) and "id" not in document:
        document = {**document, "id": app_id}
    app = app_from_json(document, base=current if partial else None, version=now)
    if app.id != app_id:
        raise Invalid([Violation("/id", "The id in the body does not match the path.")])
    return app


def _rolled_back(
    tx: Transaction, current: AppDefinition, version: str, *, now: datetime
) -> AppDefinition:
    """The configuration of an earlier version, as a new version of the app."""
    try:
        old = tx.get_app_version(current.id, parse_timestamp(version))
    except ValueError as error:
        raise Invalid([Violation("/version", f"not a timestamp: {version}")]) from error
    if old is None:
        raise NotFound(f"App '{current.id}' does not exist in version {version}")
    return reverted(current, old, now=now)


async def _put_app(request: Request, app_id: str) -> Response:
    context = context_of(request)
    document = await read_json(request)
    with context.store.transaction() as tx:
        existed = tx.get_app(app_id) is not None
        app = _updated_app(tx, document, app_id, request)
        deployment = deploy(tx, {app_id: app}, now=app.version, force=flag(request, "force"))
        _announce(tx, request, app)
    context.control.wake()
    if existed:
        return deployment_result(deployment)
    response = deployment_result(deployment, status=201)
    response.headers["Location"] = f"/v2/apps{app_id}"
    return response


@router.put("/v2/apps")
@router.patch("/v2/apps")
async def put_apps(request: Request) -> Response:
    """Create or update several apps in one deployment."""
    context = context_of(request)
    documents = await read_json(request)
    if not isinstance(documents, list):
        raise MalformedInput("expected a JSON array of app definitions")
    if len(documents) > MAX_APPS_PER_REQUEST:
        message = f"must have at most {MAX_APPS_PER_REQUEST} app definitions"
        raise Invalid([Violation("/", message)])
    with context.store.transaction() as tx:
        changes: dict[str, AppDefinition | None] = {}
        for index, document in enumerate(documents):
            if not isinstance(document, dict) or not isinstance(document.get("id"), str):
                raise Invalid([Violation(f"/({index})/id", "error.path.missing")])
            app_id = normalize_path(str(document["id"]))
            changes[app_id] = _updated_app(tx, document, app_id, request)
        now = context.clock.now()
        deployment = deploy(tx, changes, now=now, force=flag(request, "force"))
    context.control.wake()
    return deployment_result(deployment)


# The routes below an app's id. Starlette's `path` convertor is greedy, so the routes with a
# suffix come first; the router answers 405 (Marathon's body, see api/errors.py) to a method no
# route of a path takes.


SUFFIX_METHODS = {"restart": "POST", "tasks": "GET, DELETE", "versions": "GET"}
"""What the routes of a suffix take; `tasks/{id}` and `versions/{version}` take one each."""
ITEM_METHODS = {"tasks": "DELETE", "versions": "GET"}


def _app_id(path: str) -> str:
    return normalize_path("/" + path)


def _resource_id(path: str) -> str:
    """The id of the app itself a catch-all route names. A path that ends in a suffix (or a
    suffix and an item), which only its own routes take, is a 405 as in Marathon: `PUT
    /v2/apps/web/tasks` changes no app named `/web/tasks`."""
    parts = [part for part in path.split("/") if part]
    allowed = SUFFIX_METHODS.get(parts[-1]) if parts else None
    if allowed is None and len(parts) > 2:
        allowed = ITEM_METHODS.get(parts[-2])
    if allowed is not None:
        raise StarletteHTTPException(405, headers={"Allow": allowed})
    return _app_id(path)


@router.post("/v2/apps/{app_id:path}/restart")
async def restart_route(request: Request, app_id: str) -> FastJSONResponse:
    return await restart_app(request, _app_id(app_id))


@router.get("/v2/apps/{app_id:path}/tasks")
async def tasks_route(request: Request, app_id: str) -> Response:
    return await render_tasks(request, _app_id(app_id))


@router.delete("/v2/apps/{app_id:path}/tasks")
async def kill_tasks_route(request: Request, app_id: str) -> Response:
    return await kill_tasks(request, _app_id(app_id), None)


@router.delete("/v2/apps/{app_id:path}/tasks/{task_id}")
async def kill_task_route(request: Request, app_id: str, task_id: str) -> Response:
    return await kill_tasks(request, _app_id(app_id), task_id)


@router.get("/v2/apps/{app_id:path}/versions")
async def versions_route(request: Request, app_id: str) -> FastJSONResponse:
    return await get_versions(request, _app_id(app_id), None)


@router.get("/v2/apps/{app_id:path}/versions/{version}")
async def version_route(request: Request, app_id: str, version: str) -> FastJSONResponse:
    return await get_versions(request, _app_id(app_id), version)


@router.get("/v2/apps/{app_id:path}")
async def app_route(request: Request, app_id: str) -> Response:
    if not app_id.strip("/"):
        return await list_apps(request)  # `/v2/apps/`
    return await get_app(request, _resource_id(app_id))


@router.put("/v2/apps/{app_id:path}")
@router.patch("/v2/apps/{app_id:path}")
async def change_app_route(request: Request, app_id: str) -> Response:
    if not app_id.strip("/"):
        return await put_apps(request)  # `/v2/apps/`
    return await _put_app(request, _resource_id(app_id))


@router.delete("/v2/apps/{app_id:path}")
async def delete_app_route(request: Request, app_id: str) -> FastJSONResponse:
    return await delete_app(request, _resource_id(app_id))


async def get_app(request: Request, app_id: str) -> FastJSONResponse:
    context = context_of(request)
    embeds = parse_embeds(request.query_params.getlist("embed")) | ALWAYS_FOR_ONE
    with context.store.transaction() as tx:
        app = existing_app(tx, app_id)
        snapshot = Snapshot.read(tx, {app_id}, failures=True)
    return FastJSONResponse({"app": render_app(app, snapshot, embeds)})


async def delete_app(request: Request, app_id: str) -> FastJSONResponse:
    context = context_of(request)
    with context.store.transaction() as tx:
        existing_app(tx, app_id)
        deployment = deploy(
            tx, {app_id: None}, now=context.clock.now(), force=flag(request, "force")
        )
    context.control.wake()
    return deployment_result(deployment)


async def restart_app(request: Request, app_id: str) -> FastJSONResponse:
    context = context_of(request)
    with context.store.transaction() as tx:
        app = restarted(existing_app(tx, app_id), now=context.clock.now())
        deployment = deploy(tx, {app_id: app}, now=app.version, force=flag(request, "force"))
    context.control.wake()
    return deployment_result(deployment)


async def get_versions(request: Request, app_id: str, version: str | None) -> FastJSONResponse:
    context = context_of(request)
    with context.store.transaction() as tx:
        existing_app(tx, app_id)
        if version is None:
            versions: list[JsonValue] = [format_timestamp(v) for v in tx.list_app_versions(app_id)]
            return FastJSONResponse({"versions": versions})
        try:
            moment = parse_timestamp(version)
        except ValueError as error:
            raise NotFound(f"App '{app_id}' does not exist in version {version}") from error
        old = tx.get_app_version(app_id, moment)
    if old is None:
        raise NotFound(f"App '{app_id}' does not exist in version {version}")
    return FastJSONResponse(app_to_json(old))


async def kill_tasks(request: Request, app_id: str, task_id: str | None) -> Response:
    """DELETE /v2/apps/{id}/tasks[/{taskId}]: kill (optionally only on `host`), maybe scale."""
    context = context_of(request)
    now = context.clock.now()
    with context.store.transaction() as tx:
        app = existing_app(tx, app_id)
        candidates = [i for i in tx.list_instances(app_id) if not i.state.is_terminal]
        if task_id is not None:
            candidates = [i for i in candidates if i.id == task_id]
            if not candidates:
                raise NotFound(f"Task '{task_id}' does not exist")
        if "host" in request.query_params:
            candidates = [i for i in candidates if i.host == request.query_params["host"]]
        killed = request_kills(tx, candidates, now=now)
        if flag(request, "scale"):
            scaled = scaled_by(app, -len(killed), now=now)
            deployment = deploy(tx, {app_id: scaled}, now=now, force=flag(request, "force"))
    context.control.wake()
    if flag(request, "scale"):
        return deployment_result(deployment)
    rendered: list[JsonValue] = [task_to_json(i, service_ports=app.service_ports) for i in killed]
    if task_id is not None:
        return FastJSONResponse({"task": rendered[0] if rendered else None})
    return FastJSONResponse({"tasks": rendered})
