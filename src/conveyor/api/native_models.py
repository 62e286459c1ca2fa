"""The bodies of the native API under `/api`, as pydantic models. Every body is camelCase, as
Marathon's `/v2` and the pipelines API are (`dataDir`, `appId`, `memBytes`); Python code builds
them by field name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from conveyor.domain.clock import format_timestamp
from conveyor.domain.instances import Instance


class CamelModel(BaseModel):
    """Serialized with camelCase names; built with either."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ServerInfoModel(CamelModel):
    version: str
    listen: str
    hostname: str
    data_dir: str
    database: str
    engine: str


class LimitsModel(CamelModel):
    method: str
    mem_bytes: int | None
    cpu_shares: int | None
    cpu_quota_us: int | None
    notes: list[str]


class TaskModel(CamelModel):
    id: str
    app_id: str
    state: str
    host: str
    ports: list[int]
    pid: int | None
    version: str
    staged_at: str | None
    started_at: str | None
    healthy: bool | None
    limits: LimitsModel | None
    """What the engine applied: cgroup-v2, cgroup-v1, rlimit or none, and the figures."""
    ended_at: str | None = None
    """When an ended task (asked for with `ended=N`) ended; None for live tasks."""
    message: str | None = None
    """How an ended task ended: why it was killed, or its exit status."""


def task_model(instance: Instance) -> TaskModel:
    limits = instance.limits
    return TaskModel(
        id=instance.id,
        app_id=instance.app_id,
        state=instance.state.value,
        host=instance.host,
        ports=list(instance.ports),
        pid=instance.pid,
        version=format_timestamp(instance.version),
        staged_at=format_timestamp(instance.staged_at),
        started_at=format_timestamp(instance.started_at) if instance.started_at else None,
        healthy=instance.is_healthy if instance.health else None,
        limits=None
        if limits is None
        else LimitsModel(
            method=limits.method,
            mem_bytes=limits.mem_bytes,
            cpu_shares=limits.cpu_shares,
            cpu_quota_us=limits.cpu_quota_us,
            notes=list(limits.notes),
        ),
    )


class DeploymentStateModel(CamelModel):
    id: str
    status: str
    """running, succeeded or canceled"""


class WaitingModel(CamelModel):
    app_id: str
    waiting: int
    """How many of the app's instances are not launched yet."""
    reason: str | None
    """Why they cannot be placed, in words (`hostname UNIQUE: one instance per host; ...`), or
    None when nothing holds them but the launch delay."""
    launch_delay_seconds: int
    """Seconds until the next launch is allowed (backoff after failures); 0 when none."""
