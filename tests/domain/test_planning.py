from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.deployments import ActionKind, DeploymentAction, DeploymentStep
from conveyor.domain.errors import Invalid
from conveyor.domain.groups import Group
from conveyor.domain.planning import (
    dependency_depths,
    dependency_graph,
    plan_deployment,
    required_action,
)

FIXTURES = Path("/work/shared/fixtures/marathon")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def app(app_id: str, *, instances: int = 1, deps: tuple[str, ...] = ()) -> AppDefinition:
    return AppDefinition(
        id=app_id,
        version=T0,
        version_info=VersionInfo(last_scaling_at=T0, last_config_change_at=T0),
        cmd="sleep 1000",
        instances=instances,
        dependencies=deps,
    )


def apps(*definitions: AppDefinition) -> dict[str, AppDefinition]:
    return {definition.id: definition for definition in definitions}


def layout(steps: tuple[DeploymentStep, ...]) -> list[list[tuple[str, str]]]:
    return [[(action.kind.value, action.app_id) for action in step.actions] for step in steps]


def test_new_app_is_started_with_no_instances_then_scaled_like_marathons_fixture() -> None:
    fixture = json.loads((FIXTURES / "deployment_steps.json").read_text())
    expected = [
        [(action["action"], action["app"]) for action in step["actions"]]
        for step in fixture["steps"]
    ]

    steps = plan_deployment({}, apps(app("/tools/oauth-server")))

    assert layout(steps) == expected


def test_removed_app_is_stopped() -> None:
    steps = plan_deployment(apps(app("/a")), {})

    assert layout(steps) == [[("StopApplication", "/a")]]


def test_config_change_restarts_the_app() -> None:
    before = app("/a")
    after = replace(before, cmd="sleep 2000", version=T0 + timedelta(seconds=1))

    assert layout(plan_deployment(apps(before), apps(after))) == [[("RestartApplication", "/a")]]


def test_instance_count_change_alone_scales_the_app() -> None:
    before = app("/a", instances=1)
    after = replace(before, instances=5, version=T0 + timedelta(seconds=1))

    assert layout(plan_deployment(apps(before), apps(after))) == [[("ScaleApplication", "/a")]]


def test_config_and_instance_change_together_restart_the_app() -> None:
    before = app("/a", instances=1)
    after = replace(before, instances=3, mem=256.0)

    assert required_action(before, after) is ActionKind.RESTART


def test_unchanged_app_needs_no_step() -> None:
    assert plan_deployment(apps(app("/a")), apps(app("/a"))) == ()


def test_new_config_change_timestamp_alone_restarts_like_marathons_restart_endpoint() -> None:
    before = app("/a")
    later = T0 + timedelta(minutes=1)
    after = replace(before, version=later, version_info=VersionInfo(later, later))

    assert required_action(before, after) is ActionKind.RESTART


def test_dependencies_are_started_in_earlier_steps() -> None:
    target = apps(app("/web", deps=("/api",)), app("/api", deps=("/db",)), app("/db"))

    steps = plan_deployment({}, target)

    assert layout(steps) == [
        [("StartApplication", "/api"), ("StartApplication", "/db"), ("StartApplication", "/web")],
        [("ScaleApplication", "/db")],
        [("ScaleApplication", "/api")],
        [("ScaleApplication", "/web")],
    ]


def test_apps_with_equally_long_dependency_chains_share_a_step() -> None:
    target = apps(app("/db"), app("/cache"), app("/api", deps=("/db", "/cache")))
    original = {key: replace(value, cmd="old") for key, value in target.items()}

    steps = plan_deployment(original, target)

    assert layout(steps) == [
        [("RestartApplication", "/cache"), ("RestartApplication", "/db")],
        [("RestartApplication", "/api")],
    ]


def test_dependency_on_a_group_means_every_app_in_it() -> None:
    target = apps(app("/front", deps=("/back",)), app("/back/api"), app("/back/db"))

    graph = dependency_graph(target)

    assert graph["/front"] == {"/back/api", "/back/db"}
    assert dependency_depths(graph)["/front"] == 2


def test_unchanged_dependency_still_orders_the_apps_that_depend_on_it() -> None:
    base = apps(app("/db"), app("/api", deps=("/db",)), app("/other"))
    target = {key: replace(value, cmd="new") for key, value in base.items() if key != "/db"}
    target["/db"] = base["/db"]

    steps = plan_deployment(base, target)

    assert layout(steps) == [
        [("RestartApplication", "/other")],
        [("RestartApplication", "/api")],
    ]


def test_relative_dependency_is_resolved_against_the_app_id() -> None:
    target = apps(
        app("/prod/api", deps=("../db", "./cache")), app("/prod/db"), app("/prod/api/cache")
    )

    assert dependency_graph(target)["/prod/api"] == {"/prod/db", "/prod/api/cache"}


def group(group_id: str, *deps: str) -> Group:
    return Group(id=group_id, version=T0, dependencies=deps)


def test_a_groups_dependencies_order_every_app_under_it() -> None:
    # Marathon's example: the service group depends on the database group
    target = apps(
        app("/product/database/mongo"),
        app("/product/database/mysql"),
        app("/product/service/rails"),
        app("/product/service/play/api"),
    )
    groups = [group("/product/service", "/product/database"), group("/product/database")]

    steps = plan_deployment({}, target, groups)

    assert layout(steps)[1:] == [
        [
            ("ScaleApplication", "/product/database/mongo"),
            ("ScaleApplication", "/product/database/mysql"),
        ],
        [
            ("ScaleApplication", "/product/service/play/api"),
            ("ScaleApplication", "/product/service/rails"),
        ],
    ]


def test_a_groups_relative_dependency_is_resolved_against_the_group_id() -> None:
    target = apps(app("/prod/web/ui"), app("/prod/db"), app("/other"))

    graph = dependency_graph(target, [group("/prod/web", "../db")])

    assert graph == {"/prod/web/ui": {"/prod/db"}, "/prod/db": set(), "/other": set()}


def test_group_and_app_dependencies_add_up() -> None:
    target = apps(app("/g/api", deps=("/cache",)), app("/cache"), app("/db"))

    graph = dependency_graph(target, [group("/g", "/db")])

    assert graph["/g/api"] == {"/cache", "/db"}


def test_a_group_depending_on_its_own_parent_is_a_cycle() -> None:
    with pytest.raises(Invalid, match="cyclic"):
        plan_deployment({}, apps(app("/p/g/a"), app("/p/b")), [group("/p/g", "/p")])


def test_removed_apps_stop_dependents_first_by_their_groups_too() -> None:
    original = apps(app("/svc/api"), app("/data/db"))

    steps = plan_deployment(original, {}, [group("/svc", "/data")])

    assert layout(steps) == [[("StopApplication", "/svc/api")], [("StopApplication", "/data/db")]]


def test_stops_run_dependents_first() -> None:
    original = apps(app("/web", deps=("/db",)), app("/db"), app("/lonely"))

    steps = plan_deployment(original, {})

    assert layout(steps) == [
        [("StopApplication", "/web")],
        [("StopApplication", "/db"), ("StopApplication", "/lonely")],
    ]


def test_stops_come_before_starts_and_changes() -> None:
    original = apps(app("/gone"), app("/kept", instances=1))
    target = apps(app("/new"), app("/kept", instances=2))

    steps = plan_deployment(original, target)

    assert layout(steps) == [
        [("StopApplication", "/gone")],
        [("StartApplication", "/new")],
        [("ScaleApplication", "/kept"), ("ScaleApplication", "/new")],
    ]


def test_cyclic_dependencies_are_invalid_and_the_error_names_the_cycle() -> None:
    target = apps(app("/a", deps=("/b",)), app("/b", deps=("/c",)), app("/c", deps=("/a",)))

    with pytest.raises(Invalid) as raised:
        plan_deployment({}, target)

    assert "/a -> /b -> /c -> /a" in raised.value.message
    assert "/a -> /b -> /c -> /a" in raised.value.violations[0].error


def test_app_depending_on_its_own_group_is_a_cycle() -> None:
    with pytest.raises(Invalid, match="/g/a -> /g/a"):
        plan_deployment({}, apps(app("/g/a", deps=("/g",))))


def test_long_dependency_chain_does_not_exhaust_the_stack() -> None:
    chain = [app(f"/app{n}", deps=(f"/app{n + 1}",) if n < 2999 else ()) for n in range(3000)]

    depths = dependency_depths(dependency_graph(apps(*chain)))

    assert depths["/app0"] == 3000


app_ids = st.sampled_from([f"/g{g}/a{a}" for g in range(2) for a in range(4)])


@st.composite
def acyclic_apps(draw: st.DrawFn) -> dict[str, AppDefinition]:
    """Apps whose dependencies only point to apps later in a random order: never a cycle."""
    ids = draw(st.lists(app_ids, unique=True, max_size=8))
    result: dict[str, AppDefinition] = {}
    for index, app_id in enumerate(ids):
        later = ids[index + 1 :]
        deps = draw(st.lists(st.sampled_from(later), unique=True)) if later else []
        changes = draw(st.sampled_from(["same", "cmd", "instances"]))
        definition = app(app_id, deps=tuple(deps))
        if changes == "cmd":
            definition = replace(definition, cmd="changed")
        elif changes == "instances":
            definition = replace(definition, instances=7)
        result[app_id] = definition
    return result


@given(original=acyclic_apps(), target=acyclic_apps())
def test_every_app_acts_after_every_app_it_depends_on(
    original: dict[str, AppDefinition], target: dict[str, AppDefinition]
) -> None:
    steps = plan_deployment(original, target)
    step_of: dict[tuple[ActionKind, str], int] = {}
    for index, step in enumerate(steps):
        assert step.actions
        for action in step.actions:
            step_of[(action.kind, action.app_id)] = index
    graph = dependency_graph(target)
    changes = {k: v for k, v in step_of.items() if k[0] in (ActionKind.SCALE, ActionKind.RESTART)}
    for (_, app_id), index in changes.items():
        for dependency in graph[app_id]:
            for kind in (ActionKind.SCALE, ActionKind.RESTART):
                if (kind, dependency) in changes:
                    assert changes[(kind, dependency)] < index


@given(original=acyclic_apps(), target=acyclic_apps())
def test_every_difference_gets_exactly_the_action_marathon_gives_it(
    original: dict[str, AppDefinition], target: dict[str, AppDefinition]
) -> None:
    actions = [action for step in plan_deployment(original, target) for action in step.actions]
    expected = {DeploymentAction(ActionKind.STOP, a) for a in set(original) - set(target)}
    expected |= {DeploymentAction(ActionKind.START, a) for a in set(target) - set(original)}
    for app_id, definition in target.items():
        kind = required_action(original.get(app_id), definition)
        if kind is not None:
            expected.add(DeploymentAction(kind, app_id))

    assert len(actions) == len(set(actions))
    assert set(actions) == expected


@given(original=acyclic_apps())
def test_an_app_is_stopped_before_the_removed_apps_it_depends_on(
    original: dict[str, AppDefinition],
) -> None:
    steps = plan_deployment(original, {})
    step_of = {action.app_id: n for n, step in enumerate(steps) for action in step.actions}
    for app_id, dependencies in dependency_graph(original).items():
        for dependency in dependencies:
            assert step_of[app_id] < step_of[dependency]
