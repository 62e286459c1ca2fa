"""Instances in Marathon 1.6–1.8's task JSON (what `/v2/tasks` and `/v2/apps/{id}` show)."""

from __future__ import annotations

from datetime import datetime

from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.instances import HealthResult, Instance, TaskFailure


def _optional_timestamp(moment: datetime | None) -> JsonValue:
    return None if moment is None else format_timestamp(moment)


def health_result_to_json(result: HealthResult, *, task_id: str) -> JsonObject:
    return {
        "alive": result.alive,
        "consecutiveFailures": result.consecutive_failures,
        "firstSuccess": _optional_timestamp(result.first_success),
        "lastFailure": _optional_timestamp(result.last_failure),
        "lastSuccess": _optional_timestamp(result.last_success),
        "lastFailureCause": result.last_failure_cause,
        "taskId": task_id,
        "instanceId": task_id,
    }


def task_to_json(instance: Instance, *, service_ports: tuple[int, ...] = ()) -> JsonObject:
    document: JsonObject = {
        "id": instance.id,
        "appId": instance.app_id,
        "host": instance.host,
        "ipAddresses": [{"ipAddress": "127.0.0.1", "protocol": "IPv4"}],
        "ports": list(instance.ports),
        "servicePorts": list(service_ports),
        "slaveId": instance.node,
        "state": instance.state.value,
        "stagedAt": format_timestamp(instance.staged_at),
        "startedAt": _optional_timestamp(instance.started_at),
        "version": format_timestamp(instance.version),
        "localVolumes": [],
    }
    if instance.health:
        document["healthCheckResults"] = [
            health_result_to_json(result, task_id=instance.id) for result in instance.health
        ]
    return document


def task_failure_to_json(failure: TaskFailure) -> JsonObject:
    return {
        "appId": failure.app_id,
        "host": failure.host,
        "message": failure.message,
        "state": failure.state.value,
        "taskId": failure.task_id,
        "instanceId": failure.task_id,
        "timestamp": format_timestamp(failure.timestamp),
        "version": format_timestamp(failure.version),
        "slaveId": "local",
    }
