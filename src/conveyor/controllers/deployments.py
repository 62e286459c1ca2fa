"""Carrying out deployments step by step. A step's actions are re-evaluated on every pass from
the stored state, so a restarted server resumes a deployment where it was. The bookkeeping (a
step begins, succeeds; the deployment ends) is written with the pass's next launch or kill, or at
the end of the pass, once per deployment (`PendingWrites.change_deployment`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from conveyor.controllers.instances import InstanceLifecycle
from conveyor.controllers.pending import Announcement, PassView
from conveyor.controllers.scaling import Scaler
from conveyor.domain.apps import AppDefinition
from conveyor.domain.clock import Clock
from conveyor.domain.deployments import (
    ActionKind,
    Deployment,
    DeploymentAction,
    DeploymentStatus,
)
from conveyor.domain.event_json import (
    deployment_ended_event,
    deployment_info_event,
    deployment_step_event,
)
from conveyor.domain.instances import Instance, InstanceState, runs_current_config
from conveyor.domain.restarts import compute_restart_strategy, plan_restart_progress


def apps_still_held(deployment: Deployment) -> set[str]:
    """Apps with an action in the current or a later step: the steady-state loop leaves them to
    the deployment."""
    first = max(deployment.current_step, 1) - 1
    return {action.app_id for step in deployment.steps[first:] for action in step.actions}


def _all_healthy(instances: Sequence[Instance]) -> bool:
    return all(instance.is_healthy for instance in instances)


def _step_success(
    deployment: Deployment, now: datetime, finished_step: bool
) -> tuple[Announcement, ...]:
    """The announcement that the current step succeeded, when it did (`finished_step`)."""
    if not finished_step:
        return ()
    payload = deployment_step_event(deployment, success=True, at=now)
    return (Announcement("deployment_step_success", payload, now),)


class DeploymentRunner:
    def __init__(self, lifecycle: InstanceLifecycle, scaler: Scaler, clock: Clock) -> None:
        self._lifecycle = lifecycle
        self._scaler = scaler
        self._clock = clock

    async def advance(self, deployment: Deployment, view: PassView) -> None:
        """Act on the current step; while a step turns out complete without acting (nothing to
        launch or kill), go straight on to the next one in the same pass."""
        if deployment.current_step == 0:
            deployment = self._begin_step(deployment, 1, view)
        while deployment.status is DeploymentStatus.RUNNING:
            done = True
            for action in deployment.current_actions:
                if not await self._perform(action, deployment, view):
                    done = False
            if not done:
                return
            deployment = self._begin_step(
                deployment, deployment.current_step + 1, view, finished_step=True
            )

    def _begin_step(
        self, deployment: Deployment, step: int, view: PassView, *, finished_step: bool = False
    ) -> Deployment:
        """Record that `step` begins (and, with `finished_step`, that the one before it
        succeeded)."""
        now = self._clock.now()
        if step > deployment.total_steps:
            return self._finish(deployment, view, finished_step=finished_step)
        counts = dict(deployment.restart_counts)
        for action in deployment.steps[step - 1].actions:
            if action.kind is ActionKind.RESTART:
                active = [i for i in view.instances_of(action.app_id) if i.state.is_active]
                counts[action.app_id] = len(active)
        started = replace(deployment, current_step=step, step_started_at=now, restart_counts=counts)
        info = Announcement("deployment_info", deployment_info_event(started, at=now), now)
        succeeded = _step_success(deployment, now, finished_step)
        view.pending.change_deployment(started, *succeeded, info)
        return started

    def _finish(self, deployment: Deployment, view: PassView, *, finished_step: bool) -> Deployment:
        now = self._clock.now()
        finished = replace(deployment, status=DeploymentStatus.SUCCEEDED)
        success = deployment_ended_event(finished, success=True, at=now)
        ended = Announcement("deployment_success", success, now)
        succeeded = _step_success(deployment, now, finished_step)
        view.pending.change_deployment(finished, *succeeded, ended)
        return finished

    async def _perform(
        self, action: DeploymentAction, deployment: Deployment, view: PassView
    ) -> bool:
        """Move the action on; True when it is complete."""
        app = view.apps.get(action.app_id)
        instances = view.instances_of(action.app_id)
        if action.kind is ActionKind.STOP or app is None:
            return await self._stop(instances, view)
        if action.kind is ActionKind.START:
            return True
        if action.kind is ActionKind.SCALE:
            return await self._scale(app, view)
        return await self._restart(app, deployment, view)

    async def _stop(self, instances: list[Instance], view: PassView) -> bool:
        for instance in instances:
            if instance.state.is_active:
                await self._lifecycle.kill(instance, message="app stopped", pending=view.pending)
        return not instances

    async def _scale(self, app: AppDefinition, view: PassView) -> bool:
        await self._scaler.scale(app, view)
        instances = view.instances_of(app.id)
        active = [i for i in instances if i.state.is_active]
        killing = [i for i in instances if i.state is InstanceState.KILLING]
        return len(active) == app.instances and not killing and _all_healthy(active)

    async def _restart(self, app: AppDefinition, deployment: Deployment, view: PassView) -> bool:
        instances = view.instances_of(app.id)
        running_at_start = deployment.restart_counts.get(app.id, 0)
        strategy = compute_restart_strategy(app.instances, app.upgrade_strategy, running_at_start)
        old = [i for i in instances if not runs_current_config(i, app)]
        new = [i for i in instances if runs_current_config(i, app)]
        move = plan_restart_progress(target=app.instances, strategy=strategy, old=old, new=new)
        for instance_id in move.kill:
            victim = next(i for i in instances if i.id == instance_id)
            await self._lifecycle.kill(
                victim, message="replaced by a new version", pending=view.pending
            )
        if move.launch:
            active = [i for i in instances if i.state.is_active]
            await self._scaler.launch(app, move.launch, active, view)
        return move.done and not move.kill and not move.launch
