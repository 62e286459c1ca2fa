from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.apps import AppDefinition, Constraint, ConstraintOperator, VersionInfo
from conveyor.domain.constraints import (
    NodeView,
    Placement,
    Unplaceable,
    describe_constraint,
    meets_constraint,
    place_instance,
)
from conveyor.domain.instances import Instance, InstanceState

T0 = datetime(2024, 1, 1, tzinfo=UTC)
Op = ConstraintOperator


def app(*constraints: Constraint, app_id: str = "/app") -> AppDefinition:
    return AppDefinition(
        id=app_id,
        version=T0,
        version_info=VersionInfo(T0, T0),
        cmd="sleep 1000",
        constraints=constraints,
    )


def on(
    node: str,
    *,
    n: int = 0,
    app_id: str = "/app",
    state: InstanceState = InstanceState.RUNNING,
) -> Instance:
    return Instance(
        id=f"{node}.{n}",
        app_id=app_id,
        version=T0,
        state=state,
        host=node,
        node=node,
        staged_at=T0,
    )


def node(hostname: str, **attributes: str) -> NodeView:
    return NodeView(hostname, attributes)


def rule(field: str, operator: ConstraintOperator, value: str | None = None) -> Constraint:
    return Constraint(field=field, operator=operator, value=value)


def placed_on(result: Placement | Unplaceable) -> str:
    assert isinstance(result, Placement), result
    return result.node


def test_no_constraints_spreads_over_the_least_used_node() -> None:
    nodes = [node("a"), node("b")]

    assert placed_on(place_instance(app(), nodes, [on("a")])) == "b"


def test_no_node_at_all_is_unplaceable() -> None:
    assert isinstance(place_instance(app(), [], []), Unplaceable)


def test_unique_hostname_refuses_a_host_that_already_runs_an_instance() -> None:
    unique = app(rule("hostname", Op.UNIQUE))
    nodes = [node("a"), node("b")]

    assert placed_on(place_instance(unique, nodes, [on("a")])) == "b"
    refused = place_instance(unique, nodes, [on("a"), on("b")])
    assert refused == Unplaceable("UnfulfilledConstraint: hostname:UNIQUE")


def test_other_apps_and_ended_instances_do_not_count() -> None:
    unique = app(rule("hostname", Op.UNIQUE))
    running = [on("a", app_id="/other"), on("a", n=1, state=InstanceState.FAILED)]

    assert placed_on(place_instance(unique, [node("a")], running)) == "a"


def test_unique_attribute() -> None:
    unique_rack = app(rule("rack", Op.UNIQUE))
    nodes = [node("a", rack="1"), node("b", rack="1"), node("c", rack="2")]

    assert placed_on(place_instance(unique_rack, nodes, [on("a")])) == "c"


def test_cluster_with_a_value_keeps_to_that_value() -> None:
    pinned = app(rule("rack", Op.CLUSTER, "2"))
    nodes = [node("a", rack="1"), node("b", rack="2")]

    assert placed_on(place_instance(pinned, nodes, [])) == "b"


def test_cluster_without_a_value_follows_the_first_instance() -> None:
    together = app(rule("rack", Op.CLUSTER))
    nodes = [node("a", rack="1"), node("b", rack="2"), node("c", rack="2")]

    assert placed_on(place_instance(together, nodes, [on("b")])) == "c"


def test_like_and_unlike_match_the_whole_value_as_a_regular_expression() -> None:
    nodes = [node("web-1"), node("db-1")]

    assert placed_on(place_instance(app(rule("hostname", Op.LIKE, "web-.*")), nodes, [])) == "web-1"
    assert not meets_constraint(rule("hostname", Op.LIKE, "db"), nodes[1], [])
    assert meets_constraint(rule("hostname", Op.UNLIKE, "web-.*"), nodes[1], [])
    assert not meets_constraint(rule("hostname", Op.UNLIKE, "web-.*"), nodes[0], [])


def test_like_without_a_value_or_with_a_broken_pattern_matches_nothing() -> None:
    assert not meets_constraint(rule("hostname", Op.LIKE), node("a"), [])
    assert not meets_constraint(rule("hostname", Op.LIKE, "(unclosed"), node("a"), [])


def test_missing_attribute_meets_only_unlike() -> None:
    bare = node("a")

    assert meets_constraint(rule("gpu", Op.UNLIKE, "yes"), bare, [])
    for operator in (Op.LIKE, Op.UNIQUE, Op.CLUSTER, Op.GROUP_BY, Op.MAX_PER, Op.IS):
        assert not meets_constraint(rule("gpu", operator, "1"), bare, [])


def test_is_requires_the_exact_value() -> None:
    assert meets_constraint(rule("zone", Op.IS, "eu"), node("a", zone="eu"), [])
    assert not meets_constraint(rule("zone", Op.IS, "eu"), node("a", zone="eu-west"), [])


def test_max_per_allows_that_many_per_value() -> None:
    two_per_rack = app(rule("rack", Op.MAX_PER, "2"))
    nodes = [node("a", rack="1"), node("b", rack="2")]

    assert placed_on(place_instance(two_per_rack, nodes[:1], [on("a")])) == "a"
    assert isinstance(place_instance(two_per_rack, nodes[:1], [on("a"), on("a", n=1)]), Unplaceable)


def test_group_by_places_into_the_smallest_group() -> None:
    by_rack = app(rule("rack", Op.GROUP_BY))
    nodes = [node("a", rack="1"), node("b", rack="2")]

    assert placed_on(place_instance(by_rack, nodes, [on("a"), on("a", n=1), on("b")])) == "b"


def test_group_by_with_a_minimum_waits_for_that_many_groups() -> None:
    three_racks = rule("rack", Op.GROUP_BY, "3")
    placed = [node("a", rack="1"), node("b", rack="2")]

    assert not meets_constraint(three_racks, node("a", rack="1"), placed)
    assert meets_constraint(three_racks, node("c", rack="3"), placed)


def test_hostname_field_may_be_written_with_an_at_sign() -> None:
    assert not meets_constraint(rule("@hostname", Op.UNIQUE), node("a"), [node("a")])


def test_reason_names_every_constraint_that_turned_a_node_away() -> None:
    picky = app(rule("hostname", Op.UNIQUE), rule("rack", Op.IS, "9"))
    nodes = [node("a", rack="1"), node("b", rack="1")]

    reason = place_instance(picky, nodes, [on("a")])

    assert reason == Unplaceable("UnfulfilledConstraint: hostname:UNIQUE, rack:IS:9")


def test_constraint_is_described_like_marathons_cli_writes_it() -> None:
    assert describe_constraint(rule("rack", Op.GROUP_BY, "3")) == "rack:GROUP_BY:3"
    assert describe_constraint(rule("hostname", Op.UNIQUE)) == "hostname:UNIQUE"


@st.composite
def cluster(draw: st.DrawFn) -> list[NodeView]:
    """Up to 8 nodes spread over up to 4 racks."""
    count = draw(st.integers(1, 8))
    racks = draw(st.lists(st.sampled_from("1234"), min_size=count, max_size=count))
    return [node(f"n{index}", rack=rack) for index, rack in enumerate(racks)]


def place_many(definition: AppDefinition, nodes: list[NodeView], count: int) -> list[Instance]:
    running: list[Instance] = []
    for n in range(count):
        result = place_instance(definition, nodes, running)
        if isinstance(result, Unplaceable):
            break
        running.append(on(result.node, n=n))
    return running


def rack_of(nodes: list[NodeView], instance: Instance) -> str:
    return next(n.attributes["rack"] for n in nodes if n.hostname == instance.node)


@given(nodes=cluster(), count=st.integers(0, 12))
def test_unique_never_places_two_instances_on_one_value_and_fills_every_value(
    nodes: list[NodeView], count: int
) -> None:
    running = place_many(app(rule("rack", Op.UNIQUE)), nodes, count)

    racks = [rack_of(nodes, i) for i in running]
    assert len(racks) == len(set(racks))
    assert len(running) == min(count, len({n.attributes["rack"] for n in nodes}))


@given(nodes=cluster(), count=st.integers(0, 20), limit=st.integers(1, 3))
def test_max_per_never_exceeds_its_limit_and_fills_up_to_it(
    nodes: list[NodeView], count: int, limit: int
) -> None:
    running = place_many(app(rule("hostname", Op.MAX_PER, str(limit))), nodes, count)

    per_host = Counter(i.node for i in running)
    assert max(per_host.values(), default=0) <= limit
    assert len(running) == min(count, limit * len(nodes))


@given(nodes=cluster(), count=st.integers(0, 20))
def test_group_by_keeps_every_group_within_one_instance_of_the_others(
    nodes: list[NodeView], count: int
) -> None:
    running = place_many(app(rule("rack", Op.GROUP_BY)), nodes, count)

    assert len(running) == count
    per_rack = Counter(rack_of(nodes, i) for i in running)
    sizes = [per_rack.get(rack, 0) for rack in {n.attributes["rack"] for n in nodes}]
    assert max(sizes) - min(sizes) <= 1
