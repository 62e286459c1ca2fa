"""`/v2/groups`: the tree apps live in. Groups are implied by app ids (`/prod/web/api` lives in
`/prod/web`), and can also exist on their own. Changing a group deploys all its apps at once."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.changes import deploy, scaled_by
from conveyor.api.context import context_of, flag, read_json
from conveyor.api.marathon.apps import deployment_result
from conveyor.api.marathon.render import ALWAYS_FOR_LIST, Snapshot, parse_embeds, render_app
from conveyor.api.responses import FastJSONResponse
from conveyor.domain.app_json import app_from_json
from conveyor.domain.apps import AppDefinition, group_of
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Conflict, Invalid, NotFound, Violation
from conveyor.domain.groups import Group
from conveyor.domain.paths import is_under, normalize_path
from conveyor.store import Transaction

router = APIRouter(include_in_schema=False)


def ancestors(group_id: str) -> list[str]:
    """`/a/b/c` → [`/`, `/a`, `/a/b`, `/a/b/c`]."""
    parts = [p for p in group_id.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def is_within(path: str, group_id: str) -> bool:
    return path == group_id or is_under(path, group_id)


def all_group_ids(apps: list[AppDefinition], groups: list[Group]) -> set[str]:
    ids = {"/"}
    for app in apps:
        ids.update(ancestors(group_of(app.id)))
    for group in groups:
        ids.update(ancestors(group.id))
    return ids


def render_group(
    group_id: str,
    apps: list[AppDefinition],
    groups: list[Group],
    snapshot: Snapshot,
    embeds: set[str],
) -> JsonObject:
    explicit = {g.id: g for g in groups}
    ids = all_group_ids(apps, groups)
    children = sorted(g for g in ids if g not in (group_id, "/") and ancestors(g)[-2] == group_id)
    mine = [a for a in apps if group_of(a.id) == group_id]
    versions = [a.version for a in apps if is_within(a.id, group_id)]
    own = explicit.get(group_id)
    version = max(versions + ([own.version] if own else []), default=datetime(1970, 1, 1))
    sub: list[JsonValue] = [render_group(c, apps, groups, snapshot, embeds) for c in children]
    rendered_apps: list[JsonValue] = [render_app(a, snapshot, embeds) for a in mine]
    dependencies: list[JsonValue] = list(own.dependencies) if own else []
    return {
        "id": group_id,
        "apps": rendered_apps,
        "groups": sub,
        "pods": [],
        "dependencies": dependencies,
        "version": format_timestamp(version),
    }


@router.get("/v2/groups")
@router.get("/v2/groups/{group_id:path}")
async def get_group(request: Request, group_id: str = "") -> FastJSONResponse:
    context = context_of(request)
    group_id = normalize_path("/" + group_id.strip("/"))
    embeds = (parse_embeds(request.query_params.getlist("embed")) & {"tasks", "counts"}) or set()
    with context.store.transaction() as tx:
        apps = tx.list_apps()
        groups = tx.list_groups()
        snapshot = Snapshot.read(tx, {a.id for a in apps}, failures=False)
    if group_id not in all_group_ids(apps, groups):
        raise NotFound(f"Group '{group_id}' does not exist")
    return FastJSONResponse(
        render_group(group_id, apps, groups, snapshot, embeds | ALWAYS_FOR_LIST)
    )


def _contents(
    document: JsonValue, group_id: str, now: datetime, path: str = ""
) -> tuple[list[AppDefinition], list[Group]]:
    """The apps of a group document, and its nested groups (with their dependencies), at any
    depth."""
    if not isinstance(document, dict):
        raise Invalid([Violation(path or "/", "expected a group object")])
    apps: list[AppDefinition] = []
    groups: list[Group] = []
    for index, app_doc in enumerate(_items(document, "apps")):
        try:
            apps.append(app_from_json(app_doc, base=None, version=now, group=group_id))
        except Invalid as error:
            prefix = f"{path}/apps({index})"
            raise Invalid(
                [Violation(prefix + v.path, v.error) for v in error.violations]
            ) from error
    for index, sub in enumerate(_items(document, "groups")):
        sub_id = sub.get("id") if isinstance(sub, dict) else None
        if not isinstance(sub_id, str):
            raise Invalid([Violation(f"{path}/groups({index})/id", "error.path.missing")])
        child = normalize_path(sub_id if sub_id.startswith("/") else f"{group_id}/{sub_id}")
        child_apps, child_groups = _contents(sub, child, now, f"{path}/groups({index})")
        apps += child_apps
        groups += [Group(id=child, version=now, dependencies=_dependencies(sub)), *child_groups]
    return apps, groups


def _items(document: JsonObject, key: str) -> list[JsonValue]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid([Violation(f"/{key}", "expected a JSON array")])
    return value


def _group_id_of(document: JsonValue, fallback: str) -> str:
    raw = document.get("id") if isinstance(document, dict) else None
    return normalize_path(raw if isinstance(raw, str) else fallback)


@router.post("/v2/groups")
async def create_group(request: Request) -> Response:
    context = context_of(request)
    document = await read_json(request)
    group_id = _group_id_of(document, "")
    now = context.clock.now()
    apps, nested = _contents(document, group_id, now)
    with context.store.transaction() as tx:
        if group_id in all_group_ids(tx.list_apps(), tx.list_groups()):
            raise Conflict(f"Group {group_id} is already created. Use PUT to change this group.")
        tx.put_group(Group(id=group_id, version=now, dependencies=_dependencies(document)))
        for group in nested:
            tx.put_group(group)
        deployment = deploy(tx, {a.id: a for a in apps}, now=now, force=flag(request, "force"))
    context.control.wake()
    return deployment_result(deployment, status=201)


def _dependencies(document: JsonValue) -> tuple[str, ...]:
    raw = document.get("dependencies") if isinstance(document, dict) else None
    return tuple(str(d) for d in raw) if isinstance(raw, list) else ()


@router.put("/v2/groups/{group_id:path}")
@router.patch("/v2/groups/{group_id:path}")
async def update_group(request: Request, group_id: str) -> Response:
    context = context_of(request)
    group_id = normalize_path("/" + group_id.strip("/"))
    document = await read_json(request)
    now = context.clock.now()
    with context.store.transaction() as tx:
        changes, nested = _group_changes(tx, document, group_id, now)
        tx.put_group(
            Group(id=group_id, version=now, dependencies=_kept_dependencies(tx, group_id, document))
        )
        if nested is not None:
            _replace_nested_groups(tx, group_id, nested)
        deployment = deploy(tx, changes, now=now, force=flag(request, "force"))
    context.control.wake()
    return deployment_result(deployment)


def _replace_nested_groups(tx: Transaction, group_id: str, nested: list[Group]) -> None:
    """The groups under `group_id` become `nested`: a PUT with apps or groups replaces the
    tree, so a group it leaves out goes, with its dependencies."""
    kept = {group.id for group in nested}
    for stored in tx.list_groups():
        if stored.id != group_id and is_within(stored.id, group_id) and stored.id not in kept:
            tx.delete_group(stored.id)
    for group in nested:
        tx.put_group(group)


def _kept_dependencies(tx: Transaction, group_id: str, document: JsonValue) -> tuple[str, ...]:
    """The document's dependencies; the group's stored ones when it names none (a scale)."""
    if isinstance(document, dict) and "dependencies" in document:
        return _dependencies(document)
    stored = next((g for g in tx.list_groups() if g.id == group_id), None)
    return stored.dependencies if stored else ()


def _group_changes(
    tx: Transaction, document: JsonValue, group_id: str, now: datetime
) -> tuple[dict[str, AppDefinition | None], list[Group] | None]:
    """The app changes a PUT asks for, and the nested groups it names (None: it names no apps or
    groups, so the tree stays)."""
    current = [a for a in tx.list_apps() if is_within(a.id, group_id)]
    scale_by = document.get("scaleBy") if isinstance(document, dict) else None
    if isinstance(scale_by, int | float) and not isinstance(scale_by, bool):
        scaled = {
            a.id: scaled_by(a, round(a.instances * scale_by) - a.instances, now=now)
            for a in current
        }
        return dict(scaled), None
    if not isinstance(document, dict) or ("apps" not in document and "groups" not in document):
        return {}, None
    apps, nested = _contents(document, group_id, now)
    wanted = {a.id: a for a in apps}
    changes: dict[str, AppDefinition | None] = {a.id: None for a in current if a.id not in wanted}
    changes.update(wanted)
    return changes, nested


@router.delete("/v2/groups/{group_id:path}")
async def delete_group(request: Request, group_id: str) -> Response:
    context = context_of(request)
    group_id = normalize_path("/" + group_id.strip("/"))
    now = context.clock.now()
    with context.store.transaction() as tx:
        apps = tx.list_apps()
        groups = tx.list_groups()
        if group_id not in all_group_ids(apps, groups):
            raise NotFound(f"Group '{group_id}' does not exist")
        for group in groups:
            if is_within(group.id, group_id):
                tx.delete_group(group.id)
        doomed: dict[str, AppDefinition | None] = {
            a.id: None for a in apps if is_within(a.id, group_id)
        }
        deployment = deploy(tx, doomed, now=now, force=flag(request, "force"))
    context.control.wake()
    return deployment_result(deployment)
