"""Instances: one running copy of an app version (Marathon calls them tasks on the wire)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from conveyor.domain.apps import AppDefinition


class InstanceState(StrEnum):
    """Mesos task states, as Marathon reports them."""

    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    LOST = "TASK_LOST"
    ERROR = "TASK_ERROR"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        """Launched and not yet asked to stop: counts towards the app's instances."""
        return self in (InstanceState.STAGING, InstanceState.STARTING, InstanceState.RUNNING)


_TERMINAL = frozenset(
    {
        InstanceState.FINISHED,
        InstanceState.FAILED,
        InstanceState.KILLED,
        InstanceState.LOST,
        InstanceState.ERROR,
    }
)


@dataclass(frozen=True)
class HealthResult:
    """The state of one health check for one instance (Marathon's healthCheckResults item)."""

    alive: bool = False
    consecutive_failures: int = 0
    first_success: datetime | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_failure_cause: str | None = None


@dataclass(frozen=True)
class ResourceLimits:
    """What the engine actually applied to a task, so an operator can see it."""

    method: str  # "cgroup-v2", "cgroup-v1", "rlimit", "none"
    mem_bytes: int | None = None
    cpu_shares: int | None = None
    cpu_quota_us: int | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instance:
    """An instance of an app. `id` is the Marathon task id (`prod_web.<uuid>`)."""

    id: str
    app_id: str
    version: datetime
    state: InstanceState
    host: str
    staged_at: datetime
    ports: tuple[int, ...] = ()
    started_at: datetime | None = None
    pid: int | None = None
    pid_start_time: float | None = None
    health: tuple[HealthResult, ...] = ()
    limits: ResourceLimits | None = None
    node: str = "local"
    kill_grace_seconds: float = 3.0
    """The app's taskKillGracePeriodSeconds at launch: SIGTERM to SIGKILL."""
    exit_code: int | None = None
    message: str | None = None
    updated_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_healthy(self) -> bool:
        """Healthy when every health check reports alive; an app without checks is healthy
        when running."""
        if self.state is not InstanceState.RUNNING:
            return False
        return all(result.alive for result in self.health)


@dataclass(frozen=True)
class TaskFailure:
    """Marathon's lastTaskFailure: the most recent instance of an app that ended badly."""

    app_id: str
    task_id: str
    state: InstanceState
    message: str
    host: str
    version: datetime
    timestamp: datetime


def runs_current_config(instance: Instance, app: AppDefinition) -> bool:
    """True when `instance` was launched with `app`'s current configuration. A scale changes the
    app's version but not its configuration, so instances from before a scale still count."""
    return instance.version >= app.version_info.last_config_change_at
