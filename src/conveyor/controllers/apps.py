"""The apps controller: one loop that keeps every app at its desired state.

On start it reattaches to the tasks an earlier server left running. Then, on every wake-up (a
stored change, a task's end, or a timer), it advances active deployments and brings every other
app to its instance count; instances whose app is gone are stopped.
"""

from __future__ import annotations

import logging

from conveyor.controllers.deployments import DeploymentRunner, apps_still_held
from conveyor.controllers.instances import InstanceLifecycle
from conveyor.controllers.pending import PassView
from conveyor.controllers.scaling import Scaler
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.clock import Clock
from conveyor.domain.instances import Instance, InstanceState, ResourceLimits
from conveyor.engines import Engine, TaskExit, TaskHandle
from conveyor.engines.protocol import ExitReason
from conveyor.store import Store

log = logging.getLogger(__name__)

LAUNCHES_WAIT = 1  # the doorbell wakes this loop before the others (see `Wakeup`)


def handle_of(instance: Instance) -> TaskHandle | None:
    """What the engine needs to find `instance` again; None if it never got a process."""
    if instance.pid is None or instance.pid_start_time is None or instance.started_at is None:
        return None
    return TaskHandle(
        task_id=instance.id,
        pid=instance.pid,
        pid_start_time=instance.pid_start_time,
        host=instance.host,
        ports=instance.ports,
        started_at=instance.started_at,
        limits=instance.limits or ResourceLimits(method="none"),
    )


class AppsController:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        clock: Clock,
        wakeup: Wakeup,
        *,
        interval: float = 1.0,
    ) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._wakeup = wakeup
        self._interval = interval
        self.lifecycle = InstanceLifecycle(store, engine, clock)
        self._scaler = Scaler(engine, self.lifecycle, clock)
        self._deployments = DeploymentRunner(self.lifecycle, self._scaler, clock)

    async def run(self) -> None:
        """Reattach, then reconcile on every wake-up. Task ends come in through
        `on_task_exit` (see `TaskExitRouter`)."""
        await self.reattach()
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconcile failed; retrying")
            await self._wakeup.wait(self._interval, priority=LAUNCHES_WAIT)

    async def reattach(self) -> None:
        """Adopt the tasks of an earlier server; record those that ended meanwhile."""
        with self._store.transaction() as tx:
            instances = [i for i in tx.list_instances() if not i.state.is_terminal]
        handles = []
        for instance in instances:
            handle = handle_of(instance)
            if handle is None:
                self.lifecycle.record_exit(self._vanished(instance, "server stopped mid-launch"))
            else:
                handles.append(handle)
        for end in await self._engine.reattach(handles):
            self.lifecycle.record_exit(end)

    def _vanished(self, instance: Instance, message: str) -> TaskExit:
        return TaskExit(
            task_id=instance.id,
            reason=ExitReason.VANISHED,
            exit_code=None,
            ended_at=self._clock.now(),
            message=message,
        )

    def on_task_exit(self, end: TaskExit) -> None:
        self.lifecycle.record_exit(end)
        self._wakeup.ring()

    async def reconcile(self) -> None:
        with self._store.transaction() as tx:
            view = PassView.read(tx)
        held: set[str] = set()
        for deployment in view.deployments:
            held |= apps_still_held(deployment)
            await self._deployments.advance(deployment, view)
        for app_id, app in view.apps.items():
            if app_id not in held:
                await self._scaler.scale(app, view)
        self._scaler.forget_gone(view)
        for app_id, instances in view.instances.items():
            orphaned = app_id not in view.apps and app_id not in held
            await self._carry_out_kills(instances, view, orphaned=orphaned)
        view.pending.flush(self._store)

    async def _carry_out_kills(
        self, instances: list[Instance], view: PassView, *, orphaned: bool
    ) -> None:
        """Send kills marked but not yet sent; stop every instance of an app that is gone."""
        for instance in instances:
            if instance.state is InstanceState.KILLING:
                await self.lifecycle.signal_kill(instance)
            elif orphaned and instance.state.is_active:
                await self.lifecycle.kill(
                    instance, message="app no longer exists", pending=view.pending
                )
