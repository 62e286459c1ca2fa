"""Deployments: a plan of steps that moves apps from their current to their target versions.

Types only here; `plan_deployment` and friends live in `conveyor.domain.planning`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ActionKind(StrEnum):
    START = "StartApplication"
    STOP = "StopApplication"
    SCALE = "ScaleApplication"
    RESTART = "RestartApplication"


class DeploymentStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class DeploymentAction:
    kind: ActionKind
    app_id: str


@dataclass(frozen=True)
class DeploymentStep:
    """Actions in one step run together; the next step starts when all of them are done."""

    actions: tuple[DeploymentAction, ...]


@dataclass(frozen=True)
class Deployment:
    """A deployment in progress (or just ended).

    `original` and `target` map each affected app id to its version before and after; `None`
    means the app does not exist on that side (created, or deleted). `current_step` counts from 1
    like Marathon's; 0 means not started.
    """

    id: str
    version: datetime
    steps: tuple[DeploymentStep, ...]
    original: Mapping[str, datetime | None]
    target: Mapping[str, datetime | None]
    created_at: datetime
    current_step: int = 0
    status: DeploymentStatus = DeploymentStatus.RUNNING
    message: str | None = None
    is_rollback: bool = False
    step_started_at: datetime | None = None
    restart_counts: Mapping[str, int] = field(default_factory=dict)
    """For a RestartApplication action: how many instances ran when it began (Marathon computes
    the restart strategy once, from that count)."""

    @property
    def affected_apps(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.original) | set(self.target)))

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    @property
    def current_actions(self) -> tuple[DeploymentAction, ...]:
        if 1 <= self.current_step <= len(self.steps):
            return self.steps[self.current_step - 1].actions
        return ()

    @property
    def is_active(self) -> bool:
        return self.status is DeploymentStatus.RUNNING
