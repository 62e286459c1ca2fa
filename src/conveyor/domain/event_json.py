"""Marathon's event payloads and deployment JSON, built from domain values.

Every event is a JSON object with `eventType` and `timestamp`; these builders are the one place
that knows the shapes, so `/v2/events`, `/v2/deployments` and the store agree.
"""

from __future__ import annotations

from datetime import datetime

from conveyor.domain.clock import format_timestamp
from conveyor.domain.deployments import Deployment, DeploymentStep
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.instances import Instance


def _steps_to_json(steps: tuple[DeploymentStep, ...]) -> list[JsonValue]:
    return [
        {"actions": [{"action": a.kind.value, "app": a.app_id} for a in step.actions]}
        for step in steps
    ]


def deployment_to_json(deployment: Deployment) -> JsonObject:
    """The item shape of `GET /v2/deployments`."""
    return {
        "id": deployment.id,
        "version": format_timestamp(deployment.version),
        "affectedApps": list(deployment.affected_apps),
        "affectedPods": [],
        "steps": _steps_to_json(deployment.steps),
        "currentActions": [
            {"action": a.kind.value, "app": a.app_id, "readinessCheckResults": []}
            for a in deployment.current_actions
        ],
        "currentStep": deployment.current_step,
        "totalSteps": deployment.total_steps,
    }


def _root_group(version: datetime, app_ids: list[str]) -> JsonObject:
    return {
        "id": "/",
        "apps": [{"id": app_id} for app_id in app_ids],
        "groups": [],
        "dependencies": [],
        "version": format_timestamp(version),
    }


def deployment_plan_to_json(deployment: Deployment) -> JsonObject:
    """The `plan` of deployment events: steps plus the affected apps before and after."""
    original = [app_id for app_id, version in deployment.original.items() if version is not None]
    target = [app_id for app_id, version in deployment.target.items() if version is not None]
    return {
        "id": deployment.id,
        "version": format_timestamp(deployment.version),
        "original": _root_group(deployment.created_at, original),
        "target": _root_group(deployment.version, target),
        "steps": _steps_to_json(deployment.steps),
    }


def _event(event_type: str, at: datetime, **fields: JsonValue) -> JsonObject:
    return {"eventType": event_type, "timestamp": format_timestamp(at), **fields}


def status_update_event(instance: Instance, *, at: datetime, message: str = "") -> JsonObject:
    return _event(
        "status_update_event",
        at,
        slaveId=instance.node,
        taskId=instance.id,
        taskStatus=instance.state.value,
        message=message,
        appId=instance.app_id,
        host=instance.host,
        ipAddresses=[{"ipAddress": "127.0.0.1", "protocol": "IPv4"}],
        ports=list(instance.ports),
        version=format_timestamp(instance.version),
    )


def health_status_changed_event(instance: Instance, *, alive: bool, at: datetime) -> JsonObject:
    return _event(
        "health_status_changed_event",
        at,
        appId=instance.app_id,
        taskId=instance.id,
        instanceId=instance.id,
        version=format_timestamp(instance.version),
        alive=alive,
    )


def failed_health_check_event(
    instance: Instance, *, health_check: JsonObject, at: datetime
) -> JsonObject:
    return _event(
        "failed_health_check_event",
        at,
        appId=instance.app_id,
        taskId=instance.id,
        instanceId=instance.id,
        healthCheck=health_check,
    )


def unhealthy_kill_event(
    instance: Instance, *, health_check: JsonObject, reason: str, at: datetime
) -> JsonObject:
    return _event(
        "unhealthy_instance_kill_event",
        at,
        appId=instance.app_id,
        taskId=instance.id,
        instanceId=instance.id,
        version=format_timestamp(instance.version),
        reason=reason,
        host=instance.host,
        slaveId=instance.node,
        healthCheck=health_check,
    )


def _current_step_json(deployment: Deployment) -> JsonObject:
    actions: list[JsonValue] = [
        {"action": a.kind.value, "app": a.app_id} for a in deployment.current_actions
    ]
    return {"actions": actions}


def deployment_info_event(deployment: Deployment, *, at: datetime) -> JsonObject:
    return _event(
        "deployment_info",
        at,
        plan=deployment_plan_to_json(deployment),
        currentStep=_current_step_json(deployment),
    )


def deployment_step_event(deployment: Deployment, *, success: bool, at: datetime) -> JsonObject:
    event_type = "deployment_step_success" if success else "deployment_step_failure"
    return _event(
        event_type,
        at,
        plan=deployment_plan_to_json(deployment),
        currentStep=_current_step_json(deployment),
    )


def deployment_ended_event(deployment: Deployment, *, success: bool, at: datetime) -> JsonObject:
    event_type = "deployment_success" if success else "deployment_failed"
    return _event(event_type, at, id=deployment.id, plan=deployment_plan_to_json(deployment))


def api_post_event(
    app_definition: JsonObject, *, client_ip: str, uri: str, at: datetime
) -> JsonObject:
    return _event("api_post_event", at, clientIp=client_ip, uri=uri, appDefinition=app_definition)


def app_terminated_event(app_id: str, *, at: datetime) -> JsonObject:
    return _event("app_terminated_event", at, appId=app_id)


def group_change_success_event(group_id: str, *, version: datetime, at: datetime) -> JsonObject:
    return _event("group_change_success", at, groupId=group_id, version=format_timestamp(version))
