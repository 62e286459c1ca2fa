"""The launch queue: instances an app still needs, and why they wait."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.domain.apps import AppDefinition, Constraint, ConstraintOperator
from conveyor.domain.constraints import HOSTNAME_FIELDS, describe_constraint

UNFULFILLED = "UnfulfilledConstraint: "


def unplaced_key(app_id: str) -> str:
    """The store key under which the apps controller notes why an app's instances cannot be
    placed (the text of the failed constraint); the queue API reads it."""
    return f"queue.unplaced:{app_id}"


def unmet_constraints(app: AppDefinition, reason: str) -> list[Constraint]:
    """The constraints of `app` that a stored unplaced `reason` names
    (`UnfulfilledConstraint: hostname:UNIQUE, rack:LIKE:r1`)."""
    if not reason.startswith(UNFULFILLED):
        return []
    named = reason.removeprefix(UNFULFILLED)
    return [c for c in app.constraints if describe_constraint(c) in named.split(", ")]


def explain_unplaced(app: AppDefinition, reason: str, *, hosts: Sequence[str]) -> str:
    """Why instances of `app` wait, in words, for a stored unplaced `reason`; `hosts` are the
    hostnames of the nodes the server runs tasks on."""
    unmet = unmet_constraints(app, reason)
    if not unmet:
        return reason
    return "; ".join(explain_constraint(c, app.instances, hosts) for c in unmet)


def explain_constraint(constraint: Constraint, wanted: int, hosts: Sequence[str]) -> str:
    """`hostname UNIQUE: one instance per host; only 1 host (127.0.0.1), 3 instances wanted`."""
    name = constraint.field.lstrip("@")
    shown = f"{name} {constraint.operator.value}"
    if constraint.value is not None:
        shown += f" {constraint.value}"
    on_hosts = constraint.field in HOSTNAME_FIELDS
    what = "host" if on_hosts else f"value of {name}"
    count = len(hosts)
    where = f"only {count} host{'s' if count != 1 else ''} ({', '.join(hosts)})"
    operator = constraint.operator
    if operator is ConstraintOperator.UNIQUE:
        supply = where if on_hosts else f"too few nodes with distinct values of {name}"
        return f"{shown}: one instance per {what}; {supply}, {wanted} instances wanted"
    if operator is ConstraintOperator.MAX_PER:
        limit = constraint.value or "?"
        supply = where if on_hosts else f"too few nodes with distinct values of {name}"
        return f"{shown}: at most {limit} instances per {what}; {supply}, {wanted} wanted"
    if not on_hosts:
        return f"{shown}: no node has an attribute {name} that fits"
    return f"{shown}: no host fits ({where.removeprefix('only ')})"
