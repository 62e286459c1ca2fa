"""Placement: on which node a new instance may run, under an app's constraints.

Each constraint is checked as Marathon's `Constraints.meetsConstraint` checks it against an offer:
the field `hostname` (or `@hostname`) reads the node's hostname, any other field reads the
node's attribute of that name; the app's instances already placed are read the same way from
the nodes they run on (`Instance.node`). A node without the attribute meets only UNLIKE.

Among the nodes that meet every constraint the least crowded one is chosen: fewest instances in
the node's GROUP_BY groups, then fewest instances of the app on the node, then the caller's order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from conveyor.domain.apps import AppDefinition, Constraint, ConstraintOperator
from conveyor.domain.instances import Instance

HOSTNAME_FIELDS = frozenset({"hostname", "@hostname"})


@dataclass(frozen=True)
class NodeView:
    """A node as placement sees it: its hostname and its attributes (rack, zone, ...)."""

    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    node: str
    """The hostname of the chosen node."""


@dataclass(frozen=True)
class Unplaceable:
    reason: str
    """Why no node fits, naming the constraints that failed (Marathon's queue reports these as
    `UnfulfilledConstraint`)."""


def place_instance(
    app: AppDefinition, nodes: Sequence[NodeView], running: Sequence[Instance]
) -> Placement | Unplaceable:
    """Where one more instance of `app` goes, given its instances in `running` (ended ones and
    other apps' instances are not counted)."""
    if not nodes:
        return Unplaceable("no node to run on")
    placed = placed_nodes(app, nodes, running)
    fitting = [node for node in nodes if _first_unmet(app.constraints, node, placed) is None]
    if not fitting:
        return Unplaceable(_unfulfilled_reason(app.constraints, nodes, placed))
    return Placement(min(fitting, key=lambda node: _crowding(app, node, placed)).hostname)


def placed_nodes(
    app: AppDefinition, nodes: Sequence[NodeView], running: Sequence[Instance]
) -> list[NodeView]:
    """The node of each of `app`'s instances that have not ended; a node that is gone keeps its
    hostname and loses its attributes."""
    by_hostname = {node.hostname: node for node in nodes}
    return [
        by_hostname.get(instance.node, NodeView(instance.node))
        for instance in running
        if instance.app_id == app.id and not instance.state.is_terminal
    ]


def meets_constraint(constraint: Constraint, node: NodeView, placed: Sequence[NodeView]) -> bool:
    """True when one more instance on `node` keeps `constraint`, given the nodes of the app's
    instances already placed."""
    offered = field_value(constraint.field, node)
    if offered is None:
        return constraint.operator is ConstraintOperator.UNLIKE
    values = [field_value(constraint.field, other) for other in placed]
    return _CHECKS[constraint.operator](constraint.value or "", offered, values)


def field_value(name: str, node: NodeView) -> str | None:
    """What a constraint on field `name` reads from `node`."""
    if name in HOSTNAME_FIELDS:
        return node.hostname
    return node.attributes.get(name)


def describe_constraint(constraint: Constraint) -> str:
    """`hostname:UNIQUE`, `rack:GROUP_BY:3`: a constraint as Marathon's CLI writes it."""
    parts = [constraint.field, constraint.operator.value]
    if constraint.value is not None:
        parts.append(constraint.value)
    return ":".join(parts)


def _first_unmet(
    constraints: Sequence[Constraint], node: NodeView, placed: Sequence[NodeView]
) -> Constraint | None:
    return next((c for c in constraints if not meets_constraint(c, node, placed)), None)


def _unfulfilled_reason(
    constraints: Sequence[Constraint], nodes: Sequence[NodeView], placed: Sequence[NodeView]
) -> str:
    unmet = {_first_unmet(constraints, node, placed) for node in nodes}
    named = [describe_constraint(c) for c in constraints if c in unmet]
    return "UnfulfilledConstraint: " + ", ".join(named)


def _crowding(app: AppDefinition, node: NodeView, placed: Sequence[NodeView]) -> tuple[int, int]:
    in_groups = sum(
        _count_with_value(constraint.field, node, placed)
        for constraint in app.constraints
        if constraint.operator is ConstraintOperator.GROUP_BY
    )
    return in_groups, sum(1 for other in placed if other.hostname == node.hostname)


def _count_with_value(name: str, node: NodeView, placed: Sequence[NodeView]) -> int:
    value = field_value(name, node)
    return sum(1 for other in placed if field_value(name, other) == value)


Values = Sequence[str | None]


def _like(pattern: str, offered: str, _: Values) -> bool:
    return bool(pattern) and _full_match(pattern, offered)


def _unlike(pattern: str, offered: str, _: Values) -> bool:
    return bool(pattern) and not _full_match(pattern, offered)


def _full_match(pattern: str, text: str) -> bool:
    """Java's `String.matches`: the whole text; a pattern that does not compile matches nothing."""
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return False


def _unique(_: str, offered: str, values: Values) -> bool:
    return offered not in values


def _cluster(expected: str, offered: str, values: Values) -> bool:
    """With a value: that value. Without: wherever the instances already are."""
    if expected:
        return offered == expected
    return all(value == offered for value in values)


def _is(expected: str, offered: str, _: Values) -> bool:
    return offered == expected


def _group_by(minimum: str, offered: str, values: Values) -> bool:
    """A value not used yet is always fine; a used one only when it holds the fewest instances
    and at least `minimum` groups exist (Marathon's `checkGroupBy`)."""
    counts = Counter(values)
    if offered not in counts:
        return True
    return len(counts) >= _count(minimum, default=0) and counts[offered] == min(counts.values())


def _max_per(limit: str, offered: str, values: Values) -> bool:
    return values.count(offered) < _count(limit, default=0)


def _count(text: str, *, default: int) -> int:
    """An operator's number: an integer, `inf` for no limit, else `default`."""
    if text == "inf":
        return 2**31 - 1
    try:
        return int(text)
    except ValueError:
        return default


_CHECKS: dict[ConstraintOperator, Callable[[str, str, Values], bool]] = {
    ConstraintOperator.LIKE: _like,
    ConstraintOperator.UNLIKE: _unlike,
    ConstraintOperator.UNIQUE: _unique,
    ConstraintOperator.CLUSTER: _cluster,
    ConstraintOperator.IS: _is,
    ConstraintOperator.GROUP_BY: _group_by,
    ConstraintOperator.MAX_PER: _max_per,
}
