"""Commands that change desired state: validated input becomes stored app versions and one
deployment, in a single transaction. Nothing here acts on tasks; controllers do that."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from conveyor.domain.app_json import assign_service_ports
from conveyor.domain.apps import AppDefinition, VersionInfo, is_config_change
from conveyor.domain.deployments import Deployment, DeploymentStatus
from conveyor.domain.errors import Conflict
from conveyor.domain.event_json import (
    app_terminated_event,
    deployment_ended_event,
    group_change_success_event,
    status_update_event,
)
from conveyor.domain.instances import Instance, InstanceState
from conveyor.domain.planning import plan_deployment
from conveyor.domain.queue import unplaced_key
from conveyor.store import Transaction


def blocking_deployments(tx: Transaction, app_ids: set[str]) -> list[Deployment]:
    return [
        deployment
        for deployment in tx.list_deployments()
        if deployment.is_active and app_ids & set(deployment.affected_apps)
    ]


def locked_message(deployments: list[Deployment]) -> str:
    where = ", ".join(f"'/v2/deployments/{d.id}'" for d in deployments)
    return (
        "App is locked by one or more deployments. Override with the option '?force=true'. "
        f"View details at {where}."
    )


def service_ports_in_use(apps: Iterable[AppDefinition], *, excluding: set[str]) -> set[int]:
    return {port for app in apps if app.id not in excluding for port in app.service_ports if port}


def cancel(tx: Transaction, deployment: Deployment, *, now: datetime) -> None:
    """Stop a deployment where it is: forgotten, recorded as canceled, announced as failed."""
    tx.delete_deployment(deployment.id)
    tx.put_deployment_outcome(deployment.id, DeploymentStatus.CANCELED, at=now)
    payload = deployment_ended_event(deployment, success=False, at=now)
    tx.append_event("deployment_failed", payload, at=now)


def deploy(
    tx: Transaction,
    changes: Mapping[str, AppDefinition | None],
    *,
    now: datetime,
    force: bool = False,
    is_rollback: bool = False,
) -> Deployment:
    """Store `changes` (app id → new definition, or None to remove the app) and the deployment
    that carries them out. Raises Conflict if a deployment holds one of the apps, unless
    `force`, which cancels that deployment."""
    blockers = blocking_deployments(tx, set(changes))
    if blockers and not force:
        raise Conflict(locked_message(blockers), deployment_ids=tuple(d.id for d in blockers))
    for blocker in blockers:
        cancel(tx, blocker, now=now)
    original = {app.id: app for app in tx.list_apps()}
    target = dict(original)
    used = service_ports_in_use(original.values(), excluding=set(changes))
    for app_id, change in changes.items():
        if change is None:
            target.pop(app_id, None)
            continue
        app = assign_service_ports(change, used=used)
        used |= set(app.service_ports)
        target[app_id] = app
    deployment = Deployment(
        id=str(uuid.uuid4()),
        version=now,
        steps=plan_deployment(original, target, tx.list_groups()),
        original={app_id: _version(original.get(app_id)) for app_id in changes},
        target={app_id: _version(target.get(app_id)) for app_id in changes},
        created_at=now,
        is_rollback=is_rollback,
    )
    for app_id in changes:
        if app_id in target:
            tx.put_app(target[app_id])
        elif app_id in original:
            tx.delete_app(app_id)
            tx.delete_values(unplaced_key(app_id))
            tx.append_event("app_terminated_event", app_terminated_event(app_id, at=now), at=now)
    tx.put_deployment(deployment)
    tx.append_event(
        "group_change_success", group_change_success_event("/", version=now, at=now), at=now
    )
    return deployment


def _version(app: AppDefinition | None) -> datetime | None:
    return None if app is None else app.version


def request_kills(tx: Transaction, instances: list[Instance], *, now: datetime) -> list[Instance]:
    """Mark instances to be killed; the apps controller sends the signals."""
    killing = []
    for instance in instances:
        if instance.state.is_terminal or instance.state is InstanceState.KILLING:
            continue
        marked = replace(instance, state=InstanceState.KILLING, message="killed through the API")
        tx.put_instance(marked)
        tx.append_event("status_update_event", status_update_event(marked, at=now), at=now)
        killing.append(marked)
    return killing


def scaled_by(app: AppDefinition, delta: int, *, now: datetime) -> AppDefinition:
    """A new version of `app` with `delta` more (or fewer) instances, never below zero."""
    return replace(
        app,
        instances=max(0, app.instances + delta),
        version=now,
        version_info=replace(app.version_info, last_scaling_at=now),
    )


def restarted(app: AppDefinition, *, now: datetime) -> AppDefinition:
    """A new version of `app` with the same configuration that replaces every instance."""
    return replace(app, version=now, version_info=VersionInfo(now, now))


def reverted(current: AppDefinition | None, old: AppDefinition, *, now: datetime) -> AppDefinition:
    """`old`'s configuration as a new version: instances restart only if the configuration
    differs from `current`'s, otherwise it is a scale."""
    if current is None or is_config_change(current, old):
        info = VersionInfo(last_scaling_at=now, last_config_change_at=now)
    else:
        info = replace(current.version_info, last_scaling_at=now)
    return replace(old, version=now, version_info=info)
