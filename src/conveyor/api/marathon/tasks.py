"""`/v2/tasks` and an app's task list, as JSON or Marathon's tab-separated text."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from conveyor.api.context import context_of, flag, read_json
from conveyor.api.responses import FastJSONResponse
from conveyor.commands.apps import deploy, request_kills, scaled_by
from conveyor.domain.apps import AppDefinition
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import Invalid, NotFound, Violation
from conveyor.domain.instances import Instance
from conveyor.domain.limits import MAX_TASK_IDS
from conveyor.domain.task_json import task_to_json

router = APIRouter(include_in_schema=False)


def wants_text(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/plain" in accept and "application/json" not in accept


def tasks_as_text(apps: list[AppDefinition], instances: list[Instance]) -> str:
    """One line per app and service port: `appId<TAB>servicePort<TAB>host:port ...`."""
    lines = []
    for app in apps:
        mine = [i for i in instances if i.app_id == app.id]
        for index, service_port in enumerate(app.service_ports or (0,)):
            endpoints = [f"{i.host}:{i.ports[index]}" for i in mine if index < len(i.ports)]
            lines.append(
                "\t".join([app.id.strip("/").replace("/", "_"), str(service_port), *endpoints])
            )
    return "".join(line + "\n" for line in lines)


def _render(request: Request, apps: list[AppDefinition], instances: list[Instance]) -> Response:
    if wants_text(request):
        return PlainTextResponse(tasks_as_text(apps, instances))
    ports = {app.id: app.service_ports for app in apps}
    tasks: list[JsonValue] = [
        task_to_json(i, service_ports=ports.get(i.app_id, ())) for i in instances
    ]
    return FastJSONResponse({"tasks": tasks})


async def render_tasks(request: Request, app_id: str) -> Response:
    context = context_of(request)
    with context.store.transaction() as tx:
        app = tx.get_app(app_id)
        if app is None:
            raise NotFound(f"App '{app_id}' does not exist")
        instances = [i for i in tx.list_instances(app_id) if not i.state.is_terminal]
    return _render(request, [app], instances)


@router.get("/v2/tasks")
async def list_tasks(request: Request) -> Response:
    context = context_of(request)
    wanted = {s.lower() for s in request.query_params.getlist("status")}
    with context.store.transaction() as tx:
        apps = tx.list_apps()
        instances = [i for i in tx.list_instances() if not i.state.is_terminal]
    if wanted:
        instances = [i for i in instances if i.state.value.removeprefix("TASK_").lower() in wanted]
    return _render(request, apps, instances)


@router.post("/v2/tasks/delete")
async def delete_tasks(request: Request) -> Response:
    context = context_of(request)
    document = await read_json(request)
    ids = document.get("ids") if isinstance(document, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Invalid([Violation("/ids", "expected a list of task ids")])
    if len(ids) > MAX_TASK_IDS:
        raise Invalid([Violation("/ids", f"must have at most {MAX_TASK_IDS} entries")])
    now = context.clock.now()
    with context.store.transaction() as tx:
        instances = [tx.get_instance(str(task_id)) for task_id in dict.fromkeys(ids)]
        found = [i for i in instances if i is not None and not i.state.is_terminal]
        killed = request_kills(tx, found, now=now)
        if flag(request, "scale"):
            changes: dict[str, AppDefinition | None] = {}
            for app_id, count in Counter(i.app_id for i in killed).items():
                app = tx.get_app(app_id)
                if app is not None:
                    changes[app_id] = scaled_by(app, -count, now=now)
            deployment = deploy(tx, changes, now=now, force=flag(request, "force"))
    context.control.wake()
    if flag(request, "scale"):
        body = {"deploymentId": deployment.id, "version": format_timestamp(deployment.version)}
        return FastJSONResponse(body)
    tasks: list[JsonValue] = [task_to_json(i) for i in killed]
    return FastJSONResponse({"tasks": tasks})
