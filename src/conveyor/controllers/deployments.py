"""Carrying out deployments step by step. A step's actions are re-evaluated on every pass from
the stored state, so a restarted server resumes a deployment where it was."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from conveyor.controllers.instances import InstanceLifecycle
from conveyor.controllers.scaling import Scaler
from conveyor.domain.apps import AppDefinition
from conveyor.domain.clock import Clock
from conveyor.domain.deployments import (
    ActionKind,
    Deployment,
    DeploymentAction,
    DeploymentStatus,
    outcome_key,
)
from conveyor.domain.event_json import (
    deployment_ended_event,
    deployment_info_event,
    deployment_step_event,
)
from conveyor.domain.instances import Instance, InstanceState, runs_current_config
from conveyor.domain.restarts import compute_restart_strategy, plan_restart_progress
from conveyor.store import Store, Transaction

log = logging.getLogger(__name__)


def apps_still_held(deployment: Deployment) -> set[str]:
    """Apps with an action in the current or a later step: the steady-state loop leaves them to
    the deployment."""
    first = max(deployment.current_step, 1) - 1
    return {action.app_id for step in deployment.steps[first:] for action in step.actions}


def _all_healthy(instances: Sequence[Instance]) -> bool:
    return all(instance.is_healthy for instance in instances)


class DeploymentRunner:
    def __init__(
        self,
        store: Store,
        lifecycle: InstanceLifecycle,
        scaler: Scaler,
        clock: Clock,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._scaler = scaler
        self._clock = clock

    async def advance(
        self,
        deployment: Deployment,
        apps: Mapping[str, AppDefinition],
        instances: Mapping[str, list[Instance]],
    ) -> None:
        """Act on the current step; while a step turns out complete without acting (nothing to
        launch or kill), go straight on to the next one in the same pass."""
        if deployment.current_step == 0:
            deployment = self._begin_step(deployment, 1, instances)
        while deployment.status is DeploymentStatus.RUNNING:
            done = True
            for action in deployment.current_actions:
                app_instances = instances.get(action.app_id, [])
                app = apps.get(action.app_id)
                if not await self._perform(action, deployment, app, app_instances):
                    done = False
            if not done:
                return
            deployment = self._finish_step(deployment, instances)

    def _begin_step(
        self,
        deployment: Deployment,
        step: int,
        instances: Mapping[str, list[Instance]],
        *,
        finished_step: bool = False,
    ) -> Deployment:
        """Record that `step` begins (and, with `finished_step`, that the one before it
        succeeded) in one transaction."""
        now = self._clock.now()
        if step > deployment.total_steps:
            return self._finish(deployment, finished_step=finished_step)
        counts = dict(deployment.restart_counts)
        for action in deployment.steps[step - 1].actions:
            if action.kind is ActionKind.RESTART:
                active = [i for i in instances.get(action.app_id, []) if i.state.is_active]
                counts[action.app_id] = len(active)
        started = replace(deployment, current_step=step, step_started_at=now, restart_counts=counts)
        with self._store.transaction() as tx:
            if finished_step:
                self._record_step_success(tx, deployment, now)
            tx.put_deployment(started)
            tx.append_event("deployment_info", deployment_info_event(started, at=now), at=now)
        return started

    def _record_step_success(self, tx: Transaction, deployment: Deployment, now: datetime) -> None:
        payload = deployment_step_event(deployment, success=True, at=now)
        tx.append_event("deployment_step_success", payload, at=now)

    def _finish_step(
        self, deployment: Deployment, instances: Mapping[str, list[Instance]]
    ) -> Deployment:
        return self._begin_step(
            deployment, deployment.current_step + 1, instances, finished_step=True
        )

    def _finish(self, deployment: Deployment, *, finished_step: bool) -> Deployment:
        now = self._clock.now()
        finished = replace(deployment, status=DeploymentStatus.SUCCEEDED)
        with self._store.transaction() as tx:
            if finished_step:
                self._record_step_success(tx, deployment, now)
            tx.delete_deployment(deployment.id)
            tx.put_value(outcome_key(deployment.id), DeploymentStatus.SUCCEEDED.value)
            tx.append_event(
                "deployment_success",
                deployment_ended_event(finished, success=True, at=now),
                at=now,
            )
        log.info("deployment %s succeeded", deployment.id)
        return finished

    async def _perform(
        self,
        action: DeploymentAction,
        deployment: Deployment,
        app: AppDefinition | None,
        instances: list[Instance],
    ) -> bool:
        """Move the action on; True when it is complete."""
        if action.kind is ActionKind.STOP or app is None:
            return await self._stop(instances)
        if action.kind is ActionKind.START:
            return True
        if action.kind is ActionKind.SCALE:
            return await self._scale(app, instances)
        return await self._restart(app, deployment, instances)

    async def _stop(self, instances: list[Instance]) -> bool:
        for instance in instances:
            if instance.state.is_active:
                await self._lifecycle.kill(instance, message="app stopped")
        return not instances

    async def _scale(self, app: AppDefinition, instances: list[Instance]) -> bool:
        await self._scaler.scale(app, instances)
        active = [i for i in instances if i.state.is_active]
        killing = [i for i in instances if i.state is InstanceState.KILLING]
        return len(active) == app.instances and not killing and _all_healthy(active)

    async def _restart(
        self, app: AppDefinition, deployment: Deployment, instances: list[Instance]
    ) -> bool:
        running_at_start = deployment.restart_counts.get(app.id, 0)
        strategy = compute_restart_strategy(app.instances, app.upgrade_strategy, running_at_start)
        old = [i for i in instances if not runs_current_config(i, app)]
        new = [i for i in instances if runs_current_config(i, app)]
        move = plan_restart_progress(target=app.instances, strategy=strategy, old=old, new=new)
        for instance_id in move.kill:
            victim = next(i for i in instances if i.id == instance_id)
            await self._lifecycle.kill(victim, message="replaced by a new version")
        if move.launch:
            await self._scaler.launch(app, move.launch, [i for i in instances if i.state.is_active])
        return move.done and not move.kill and not move.launch
