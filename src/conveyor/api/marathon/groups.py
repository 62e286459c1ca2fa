"""`/v2/groups`: the tree apps live in. Groups are implied by app ids (`/prod/web/api` lives in
`/prod/web`), and can also exist on their own. Changing a group deploys all its apps at once."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.context import context_of, flag, read_json
from conveyor.api.marathon.apps import deployment_result
from conveyor.api.marathon.render import ALWAYS_FOR_LIST, Snapshot, parse_embeds, render_app
from conveyor.api.responses import FastJSONResponse
from conveyor.commands.apps import deploy, scaled_by
from conveyor.domain.app_json import app_from_json
from conveyor.domain.apps import AppDefinition
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Conflict, Invalid, NotFound, Violation
from conveyor.domain.groups import Group, GroupTree
from conveyor.domain.json_fields import Violations, read_number, read_strings
from conveyor.domain.limits import MAX_APPS_PER_REQUEST, MAX_DEPENDENCIES, MAX_INSTANCES
from conveyor.domain.paths import is_under, normalize_path, path_violations
from conveyor.store import Transaction

router = APIRouter(include_in_schema=False)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_within(path: str, group_id: str) -> bool:
    return path == group_id or is_under(path, group_id)


def group_tree(apps: list[AppDefinition], groups: list[Group]) -> GroupTree:
    return GroupTree((app.id for app in apps), groups)


def render_group(
    group_id: str,
    tree: GroupTree,
    apps: dict[str, AppDefinition],
    snapshot: Snapshot,
    embeds: set[str],
) -> tuple[JsonObject, datetime]:
    """The group's JSON, and the newest version of the apps in it at any depth. Each group and
    app is visited once."""
    sub = [render_group(child, tree, apps, snapshot, embeds) for child in tree.children[group_id]]
    mine = [apps[app_id] for app_id in tree.apps.get(group_id, ())]
    newest = max([app.version for app in mine] + [version for _, version in sub], default=EPOCH)
    own = tree.explicit.get(group_id)
    rendered_apps: list[JsonValue] = [render_app(a, snapshot, embeds) for a in mine]
    rendered_groups: list[JsonValue] = [rendered for rendered, _ in sub]
    dependencies: list[JsonValue] = list(own.dependencies) if own else []
    version = max(newest, own.version) if own else newest
    rendered: JsonObject = {
        "id": group_id,
        "apps": rendered_apps,
        "groups": rendered_groups,
        "pods": [],
        "dependencies": dependencies,
        "version": format_timestamp(version),
    }
    return rendered, newest


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
    tree = group_tree(apps, groups)
    if group_id not in tree:
        raise NotFound(f"Group '{group_id}' does not exist")
    by_id = {app.id: app for app in apps}
    rendered, _ = render_group(group_id, tree, by_id, snapshot, embeds | ALWAYS_FOR_LIST)
    return FastJSONResponse(rendered)


def _checked_id(raw: str, *, base: str, at: str) -> str:
    """`raw` as a group id read against `base`; Invalid at `at` unless it is a valid one."""
    group_id = normalize_path(raw, base)
    violations = path_violations(group_id, at=at) if group_id != "/" else []
    if violations:
        raise Invalid(violations)
    return group_id


def _contents(
    document: JsonValue, group_id: str, now: datetime, path: str = "", read: int = 0
) -> tuple[list[AppDefinition], list[Group]]:
    """The apps of a group document, and its nested groups (with their dependencies), at any
    depth. `read` apps were read before this group; there may be MAX_APPS_PER_REQUEST in all."""
    if not isinstance(document, dict):
        raise Invalid([Violation(path or "/", "expected a group object")])
    apps: list[AppDefinition] = []
    groups: list[Group] = []
    for index, app_doc in enumerate(_items(document, "apps")):
        if read + len(apps) >= MAX_APPS_PER_REQUEST:
            message = f"a group may hold at most {MAX_APPS_PER_REQUEST} apps in all"
            raise Invalid([Violation(f"{path}/apps", message)])
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
        at = f"{path}/groups({index})"
        child = _checked_id(sub_id, base=group_id, at=f"{at}/id")
        child_apps, child_groups = _contents(sub, child, now, at, read + len(apps))
        apps += child_apps
        dependencies = _dependencies(sub, at)
        groups += [Group(id=child, version=now, dependencies=dependencies), *child_groups]
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
    return _checked_id(raw if isinstance(raw, str) else fallback, base="/", at="/id")


@router.post("/v2/groups")
async def create_group(request: Request) -> Response:
    context = context_of(request)
    document = await read_json(request)
    group_id = _group_id_of(document, "")
    now = context.clock.now()
    apps, nested = _contents(document, group_id, now)
    with context.store.transaction() as tx:
        if group_id in group_tree(tx.list_apps(), tx.list_groups()):
            raise Conflict(f"Group {group_id} is already created. Use PUT to change this group.")
        tx.put_group(Group(id=group_id, version=now, dependencies=_dependencies(document, "")))
        for group in nested:
            tx.put_group(group)
        deployment = deploy(tx, {a.id: a for a in apps}, now=now, force=flag(request, "force"))
    context.control.wake()
    return deployment_result(deployment, status=201)


def _dependencies(document: JsonValue, path: str) -> tuple[str, ...]:
    """The group's `dependencies`: ids of apps or groups, relative ones read against it."""
    raw = document.get("dependencies") if isinstance(document, dict) else None
    if raw is None:
        return ()
    problems = Violations()
    names = read_strings(raw, f"{path}/dependencies", problems)
    problems.raise_if_any()
    if names is None:
        return ()
    if len(names) > MAX_DEPENDENCIES:
        message = f"must have at most {MAX_DEPENDENCIES} entries"
        raise Invalid([Violation(f"{path}/dependencies", message)])
    for index, name in enumerate(names):
        problems.found += path_violations(normalize_path(name), at=f"{path}/dependencies({index})")
    problems.raise_if_any()
    return names


@router.put("/v2/groups/{group_id:path}")
@router.patch("/v2/groups/{group_id:path}")
async def update_group(request: Request, group_id: str) -> Response:
    context = context_of(request)
    group_id = _checked_id(group_id, base="/", at="/id")
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
        return _dependencies(document, "")
    stored = next((g for g in tx.list_groups() if g.id == group_id), None)
    return stored.dependencies if stored else ()


def _group_changes(
    tx: Transaction, document: JsonValue, group_id: str, now: datetime
) -> tuple[dict[str, AppDefinition | None], list[Group] | None]:
    """The app changes a PUT asks for, and the nested groups it names (None: it names no apps or
    groups, so the tree stays)."""
    current = [a for a in tx.list_apps() if is_within(a.id, group_id)]
    if isinstance(document, dict) and document.get("scaleBy") is not None:
        factor = _scale_factor(document["scaleBy"], current)
        scaled = {
            a.id: scaled_by(a, round(a.instances * factor) - a.instances, now=now) for a in current
        }
        return dict(scaled), None
    if not isinstance(document, dict) or ("apps" not in document and "groups" not in document):
        return {}, None
    apps, nested = _contents(document, group_id, now)
    wanted = {a.id: a for a in apps}
    changes: dict[str, AppDefinition | None] = {a.id: None for a in current if a.id not in wanted}
    changes.update(wanted)
    return changes, nested


def _scale_factor(value: JsonValue, apps: list[AppDefinition]) -> float:
    """`scaleBy`: a number ≥ 0 that leaves every app within MAX_INSTANCES."""
    problems = Violations()
    factor = read_number(value, "/scaleBy", problems, minimum=0.0)
    problems.raise_if_any()
    assert factor is not None
    largest = max((app.instances for app in apps), default=0)
    if largest * factor > MAX_INSTANCES:
        message = (
            f"would give an app {round(largest * factor)} instances, more than {MAX_INSTANCES}"
        )
        raise Invalid([Violation("/scaleBy", message)])
    return factor


@router.delete("/v2/groups/{group_id:path}")
async def delete_group(request: Request, group_id: str) -> Response:
    context = context_of(request)
    group_id = normalize_path("/" + group_id.strip("/"))
    now = context.clock.now()
    with context.store.transaction() as tx:
        apps = tx.list_apps()
        groups = tx.list_groups()
        if group_id not in group_tree(apps, groups):
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
