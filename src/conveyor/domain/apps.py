"""Apps: the definition of a long-running service, in Marathon's vocabulary.

An `AppDefinition` is one version of an app. The fields Conveyor acts on are typed; the parts of a
Marathon definition it stores and returns but does not act on (fetch, secrets, readiness checks,
...) are kept verbatim in `passthrough` so a client gets back what it sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from conveyor.domain.documents import JsonValue


class KillSelection(StrEnum):
    YOUNGEST_FIRST = "YOUNGEST_FIRST"
    OLDEST_FIRST = "OLDEST_FIRST"


class HealthProtocol(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"
    TCP = "TCP"
    COMMAND = "COMMAND"
    MESOS_HTTP = "MESOS_HTTP"
    MESOS_HTTPS = "MESOS_HTTPS"
    MESOS_TCP = "MESOS_TCP"


class ConstraintOperator(StrEnum):
    UNIQUE = "UNIQUE"
    CLUSTER = "CLUSTER"
    GROUP_BY = "GROUP_BY"
    LIKE = "LIKE"
    UNLIKE = "UNLIKE"
    MAX_PER = "MAX_PER"
    IS = "IS"


@dataclass(frozen=True)
class PortDefinition:
    """A port the app asks for. `port` is the service port (0: assign one)."""

    port: int = 0
    protocol: str = "tcp"
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthCheck:
    protocol: HealthProtocol = HealthProtocol.HTTP
    path: str | None = None
    port_index: int | None = None
    port: int | None = None
    command: str | None = None
    grace_period_seconds: int = 300
    interval_seconds: int = 60
    timeout_seconds: int = 20
    max_consecutive_failures: int = 3
    ignore_http1xx: bool = False
    delay_seconds: int = 15


@dataclass(frozen=True)
class UpgradeStrategy:
    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0


@dataclass(frozen=True)
class Constraint:
    field: str
    operator: ConstraintOperator
    value: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    last_scaling_at: datetime
    last_config_change_at: datetime


@dataclass(frozen=True)
class AppDefinition:
    """One version of an app, with Marathon 1.6–1.8 defaults filled in."""

    id: str
    version: datetime
    version_info: VersionInfo
    cmd: str | None = None
    args: tuple[str, ...] | None = None
    user: str | None = None
    env: Mapping[str, JsonValue] = field(default_factory=dict)
    instances: int = 1
    cpus: float = 1.0
    mem: float = 128.0
    disk: float = 0.0
    gpus: int = 0
    executor: str = ""
    constraints: tuple[Constraint, ...] = ()
    uris: tuple[str, ...] = ()
    port_definitions: tuple[PortDefinition, ...] = (PortDefinition(),)
    require_ports: bool = False
    backoff_seconds: float = 1.0
    backoff_factor: float = 1.15
    max_launch_delay_seconds: float = 3600.0
    container_image: str | None = None
    health_checks: tuple[HealthCheck, ...] = ()
    dependencies: tuple[str, ...] = ()
    upgrade_strategy: UpgradeStrategy = UpgradeStrategy()
    labels: Mapping[str, str] = field(default_factory=dict)
    task_kill_grace_period_seconds: float | None = None
    kill_selection: KillSelection = KillSelection.YOUNGEST_FIRST
    passthrough: Mapping[str, JsonValue] = field(default_factory=dict)
    """Marathon fields stored and returned as given: container, fetch, secrets, readinessChecks,
    ipAddress, networks, residency, unreachableStrategy, acceptedResourceRoles, storeUrls."""

    @property
    def port_count(self) -> int:
        return len(self.port_definitions)

    @property
    def service_ports(self) -> tuple[int, ...]:
        return tuple(definition.port for definition in self.port_definitions)

    @property
    def kill_grace_seconds(self) -> float:
        """How long a task gets between SIGTERM and SIGKILL (Mesos' default is 3 s)."""
        if self.task_kill_grace_period_seconds is None:
            return 3.0
        return self.task_kill_grace_period_seconds


def group_of(app_id: str) -> str:
    """The group an app belongs to: `/prod/web/api` → `/prod/web`, `/api` → `/`."""
    parent = app_id.rsplit("/", 1)[0]
    return parent or "/"


def task_id_prefix(app_id: str) -> str:
    """Task ids begin with the app path, `/` replaced by `_`: `/prod/web` → `prod_web`."""
    return app_id.strip("/").replace("/", "_")


def is_config_change(old: AppDefinition, new: AppDefinition) -> bool:
    """True when `new` differs from `old` in anything but the instance count and version stamps:
    such a change restarts every instance; a change of `instances` alone only scales."""
    restamped = replace(
        new, instances=old.instances, version=old.version, version_info=old.version_info
    )
    return restamped != old
