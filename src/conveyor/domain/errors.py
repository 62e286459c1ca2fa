"""Conveyor's errors: one root, a few kinds. The API layer maps each kind to an HTTP status.

    ConveyorError
     ├── NotFound      the thing named does not exist                  → 404
     ├── Conflict      it exists, but something holds it (a deployment) → 409
     ├── Invalid       the input breaks a rule; `details` names fields  → 422 (400 for bad JSON)
     └── Unavailable   a dependency (database, engine) cannot serve now → 503

A failed step, health check or job run is a value, never one of these.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConveyorError(Exception):
    """The root of every error Conveyor raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ConveyorError):
    """The app, task, deployment, ... named by the caller does not exist."""


class Conflict(ConveyorError):
    """The change clashes with current state, e.g. a deployment already holds the app."""

    def __init__(self, message: str, *, deployment_ids: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.deployment_ids = deployment_ids


@dataclass(frozen=True)
class Violation:
    """One broken rule: `path` is a JSON-pointer-like path ("/healthChecks(0)/path")."""

    path: str
    error: str


class Invalid(ConveyorError):
    """Input breaks one or more rules; each violation names the field and the rule."""

    def __init__(
        self, violations: list[Violation] | tuple[Violation, ...], message: str = ""
    ) -> None:
        self.violations = tuple(violations)
        super().__init__(message or "Object is not valid")


class MalformedInput(ConveyorError):
    """Input could not even be read (bad JSON, wrong top-level type)."""


class Unavailable(ConveyorError):
    """A dependency cannot serve right now; the caller may retry."""
