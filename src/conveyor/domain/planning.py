"""Deployment plans: the steps that move apps from their original to their target definitions.

The layout follows Marathon's `DeploymentPlan.apply`:

1. stop the apps that are gone (one step; several when removed apps depend on each other, so
   that an app is stopped before the apps it depends on);
2. start every new app with 0 instances, all in one step;
3. one step per dependency layer of the target: apps that depend on nothing first, then the apps
   whose longest chain of dependencies is one longer, and so on. In a layer a new app is scaled
   to its instance count, a changed configuration restarts, a changed instance count scales.

Dependencies name apps or groups (`/db` means the app `/db` if there is one, else every app
under the group `/db`); relative names are resolved against the app's id, as Marathon's
`AppDefinition.withCanonizedIds` does. A group's dependencies are every app's under it (at any
depth), its relative names resolved against the group's id the same way. Names that match
nothing are left to validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from conveyor.domain.apps import AppDefinition, is_config_change
from conveyor.domain.deployments import ActionKind, DeploymentAction, DeploymentStep
from conveyor.domain.errors import Invalid, Violation
from conveyor.domain.groups import Group
from conveyor.domain.paths import is_under, normalize_path

DependencyGraph = Mapping[str, frozenset[str]]


def plan_deployment(
    original: Mapping[str, AppDefinition],
    target: Mapping[str, AppDefinition],
    groups: Sequence[Group] = (),
) -> tuple[DeploymentStep, ...]:
    """The steps from `original` to `target` (app id → definition; absent: no such app), with
    the dependencies of `groups` too.

    Raises `Invalid` naming the cycle when the target's dependencies are cyclic."""
    changes = _change_steps(original, target, groups)
    new_apps = sorted(set(target) - set(original))
    steps = (
        *_stop_steps(original, target, groups),
        _step(ActionKind.START, new_apps),
        *changes,
    )
    return tuple(step for step in steps if step.actions)


def required_action(before: AppDefinition | None, after: AppDefinition) -> ActionKind | None:
    """What moves one app from `before` (None: it is new) to `after`, as Marathon decides it:
    a new app scales up after its start; a configuration change or an explicit restart (a new
    `lastConfigChangeAt`) restarts; an instance count change alone scales; nothing else acts."""
    if before is None:
        return ActionKind.SCALE
    if is_config_change(before, after):
        return ActionKind.RESTART
    if before.instances != after.instances:
        return ActionKind.SCALE
    if before.version_info.last_config_change_at != after.version_info.last_config_change_at:
        return ActionKind.RESTART
    return None


def dependency_graph(
    apps: Mapping[str, AppDefinition], groups: Sequence[Group] = ()
) -> dict[str, frozenset[str]]:
    """Each app's direct dependencies among `apps` — its own and those of the groups it is in —
    group names expanded to their apps."""
    inherited = [
        (group.id, [normalize_path(name, group.id) for name in group.dependencies])
        for group in groups
        if group.dependencies
    ]
    graph = {}
    for app_id, app in apps.items():
        names = [normalize_path(name, app_id) for name in app.dependencies]
        for group_id, group_names in inherited:
            if is_under(app_id, group_id):
                names += group_names
        graph[app_id] = frozenset(
            dependency for name in names for dependency in _apps_named(name, apps)
        )
    return graph


def dependency_depths(graph: DependencyGraph) -> dict[str, int]:
    """The length of each app's longest chain of dependencies, itself included (an app that
    depends on nothing has depth 1). Raises `Invalid` naming a cycle if there is one."""
    depths: dict[str, int] = {}
    for root in sorted(graph):
        if root not in depths:
            _measure_from(root, graph, depths)
    return depths


def _apps_named(name: str, apps: Mapping[str, AppDefinition]) -> Iterable[str]:
    if name in apps:
        return (name,)
    return (app_id for app_id in apps if is_under(app_id, name))


def _measure_from(root: str, graph: DependencyGraph, depths: dict[str, int]) -> None:
    """Depth-first from `root`, without recursion (dependency chains may be long)."""
    path = [root]
    pending = [iter(sorted(graph.get(root, ())))]
    while path:
        node = path[-1]
        child = next(pending[-1], None)
        if child is None:
            depths[node] = 1 + max((depths[d] for d in graph.get(node, ())), default=0)
            path.pop()
            pending.pop()
        elif child in path:
            raise _cycle_error([*path[path.index(child) :], child])
        elif child not in depths:
            path.append(child)
            pending.append(iter(sorted(graph.get(child, ()))))


def _cycle_error(cycle: list[str]) -> Invalid:
    message = "Dependency graph has cyclic dependencies: " + " -> ".join(cycle)
    return Invalid([Violation(path="/dependencies", error=message)], message)


def _change_steps(
    original: Mapping[str, AppDefinition],
    target: Mapping[str, AppDefinition],
    groups: Sequence[Group],
) -> list[DeploymentStep]:
    depths = dependency_depths(dependency_graph(target, groups))
    layers: dict[int, list[DeploymentAction]] = {}
    for app_id in sorted(target):
        kind = required_action(original.get(app_id), target[app_id])
        if kind is not None:
            layers.setdefault(depths[app_id], []).append(DeploymentAction(kind, app_id))
    return [DeploymentStep(tuple(layers[depth])) for depth in sorted(layers)]


def _stop_steps(
    original: Mapping[str, AppDefinition],
    target: Mapping[str, AppDefinition],
    groups: Sequence[Group],
) -> list[DeploymentStep]:
    """Removed apps, dependents first. Only dependencies among the removed apps order them; if
    those are cyclic (a stored state Conveyor never accepts) they all stop in one step."""
    removed = {app_id: app for app_id, app in original.items() if app_id not in target}
    try:
        depths = dependency_depths(dependency_graph(removed, groups))
    except Invalid:
        depths = dict.fromkeys(removed, 1)
    layers = sorted(set(depths.values()), reverse=True)
    return [
        _step(ActionKind.STOP, sorted(a for a, depth in depths.items() if depth == layer))
        for layer in layers
    ]


def _step(kind: ActionKind, app_ids: Iterable[str]) -> DeploymentStep:
    return DeploymentStep(tuple(DeploymentAction(kind, app_id) for app_id in app_ids))
