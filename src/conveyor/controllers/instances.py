"""Launching, killing and recording the end of instances. Every transition is stored before the
engine is asked to act, so a restarted server knows what it was doing."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace

from conveyor.controllers.pending import PendingWrites
from conveyor.domain.apps import AppDefinition, task_id_prefix
from conveyor.domain.backoff import record_launch_failure
from conveyor.domain.clock import Clock
from conveyor.domain.environment import task_environment
from conveyor.domain.errors import ConveyorError
from conveyor.domain.event_json import status_update_event
from conveyor.domain.instances import (
    HealthResult,
    Instance,
    InstanceState,
    TaskFailure,
    runs_current_config,
)
from conveyor.engines import Engine, LaunchSpec, TaskExit, TaskHandle
from conveyor.engines.protocol import ExitReason
from conveyor.store import Store, Transaction

log = logging.getLogger(__name__)


def new_task_id(app_id: str) -> str:
    return f"{task_id_prefix(app_id)}.{uuid.uuid4()}"


def launch_spec(app: AppDefinition, task_id: str) -> LaunchSpec:
    return LaunchSpec(
        task_id=task_id,
        shell=app.cmd,
        argv=app.args if app.cmd is None else None,
        env=task_environment(app, task_id=task_id),
        port_count=app.port_count,
        port_names=tuple(definition.name for definition in app.port_definitions),
        required_ports=app.service_ports if app.require_ports else (),
        cpus=app.cpus,
        mem_mib=app.mem,
        image=app.container_image,
    )


def ended_state(instance: Instance, end: TaskExit) -> InstanceState:
    """How an instance ended: killed on purpose, finished, failed, or lost."""
    if instance.state is InstanceState.KILLING or end.reason is ExitReason.KILLED:
        return InstanceState.KILLED
    if end.reason is ExitReason.VANISHED:
        return InstanceState.LOST
    return InstanceState.FINISHED if end.exit_code == 0 else InstanceState.FAILED


def describe_end(end: TaskExit) -> str:
    if end.message:
        return end.message
    if end.exit_code is None:
        return "the task vanished"
    if end.exit_code < 0:
        return f"Command terminated with signal {-end.exit_code}"
    return f"Command exited with status {end.exit_code}"


class InstanceLifecycle:
    def __init__(self, store: Store, engine: Engine, clock: Clock) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._signalled: set[str] = set()

    def staging(self, app: AppDefinition, *, node: str) -> Instance:
        """A new instance of `app` on `node`, not yet stored or launched."""
        return Instance(
            id=new_task_id(app.id),
            app_id=app.id,
            version=app.version,
            state=InstanceState.STAGING,
            host=node,
            node=node,
            staged_at=self._clock.now(),
            health=tuple(HealthResult() for _ in app.health_checks),
            kill_grace_seconds=app.kill_grace_seconds,
        )

    async def launch(
        self,
        app: AppDefinition,
        stagings: Sequence[Instance],
        *,
        pending: PendingWrites | None = None,
    ) -> list[Instance]:
        """Start these new instances of `app` together: all are stored STAGING in one
        transaction (after what is `pending`) before the engine is asked for any, and the
        engine's launches overlap. Returns those that started; a refused launch counts as a
        failure of the app."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            if pending is not None:
                pending.apply(tx)
            for staging in stagings:
                tx.put_instance(staging)
                tx.append_event("status_update_event", status_update_event(staging, at=now), at=now)
        outcomes = await self._launch_all(app, stagings)
        started = []
        for staging, outcome in zip(stagings, outcomes, strict=True):
            if isinstance(outcome, ConveyorError):
                log.warning("launch of %s failed: %s", staging.id, outcome.message)
                self._record_failed_launch(staging, app, outcome.message)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                started.append((staging, outcome))
        return self._record_running(started)

    async def _launch_all(
        self, app: AppDefinition, stagings: Sequence[Instance]
    ) -> list[TaskHandle | BaseException]:
        """The engine's answer for each staging: its handle, or what it raised. One launch is
        awaited in place: a task of its own would wait behind every other ready loop."""
        launches = [
            self._engine.launch(launch_spec(app, staging.id), node=staging.node)
            for staging in stagings
        ]
        if len(launches) > 1:
            return await asyncio.gather(*launches, return_exceptions=True)
        try:
            return [await launches[0]]
        except Exception as error:
            return [error]

    def _record_running(self, started: list[tuple[Instance, TaskHandle]]) -> list[Instance]:
        now = self._clock.now()
        running_instances = []
        with self._store.transaction() as tx:
            for staging, handle in started:
                running = replace(
                    staging,
                    state=InstanceState.RUNNING,
                    host=handle.host,
                    ports=handle.ports,
                    pid=handle.pid,
                    pid_start_time=handle.pid_start_time,
                    started_at=handle.started_at,
                    limits=handle.limits,
                )
                current = tx.get_instance(staging.id)
                if current is None or current.state is not InstanceState.STAGING:
                    # killed while launching: keep the kill, remember the process
                    running = replace(running, state=InstanceState.KILLING)
                tx.put_instance(running)
                payload = status_update_event(running, at=now)
                tx.append_event("status_update_event", payload, at=now)
                running_instances.append(running)
        return running_instances

    def _record_failed_launch(self, staging: Instance, app: AppDefinition, message: str) -> None:
        failed = replace(staging, state=InstanceState.ERROR, message=message)
        now = self._clock.now()
        with self._store.transaction() as tx:
            tx.delete_instance(staging.id)
            tx.append_event(
                "status_update_event",
                status_update_event(failed, at=now, message=message),
                at=now,
            )
            self._record_failure(tx, failed, app, message)

    async def kill(
        self, instance: Instance, *, message: str = "", pending: PendingWrites | None = None
    ) -> None:
        """Ask the engine to stop `instance` (stored KILLING first, after what is `pending`);
        its end arrives later through `record_exit`."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            if pending is not None:
                pending.apply(tx)
            current = tx.get_instance(instance.id)
            if current is None or current.state.is_terminal:
                return
            killing = replace(current, state=InstanceState.KILLING, message=message or None)
            tx.put_instance(killing)
            tx.append_event(
                "status_update_event",
                status_update_event(killing, at=now, message=message),
                at=now,
            )
        await self.signal_kill(killing)

    async def signal_kill(self, instance: Instance) -> None:
        """Send the engine's kill for an instance marked KILLING, once per server lifetime
        (kills asked for through the API, or before a restart, are marked but not yet sent)."""
        if instance.pid is None or instance.id in self._signalled:
            return
        self._signalled.add(instance.id)
        await self._engine.kill(instance.id, grace_seconds=instance.kill_grace_seconds)

    def record_exit(self, end: TaskExit) -> Instance | None:
        """Store how an instance ended; a failure counts towards the app's launch backoff."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            instance = tx.get_instance(end.task_id)
            if instance is None:
                return None
            state = ended_state(instance, end)
            message = describe_end(end)
            ended = replace(instance, state=state, exit_code=end.exit_code, message=message)
            tx.delete_instance(instance.id)
            self._signalled.discard(instance.id)
            tx.append_event(
                "status_update_event",
                status_update_event(ended, at=now, message=message),
                at=now,
            )
            app = tx.get_app(instance.app_id)
            if state is not InstanceState.KILLED and app is not None:
                self._record_failure(tx, ended, app, message)
        return ended

    def _record_failure(
        self, tx: Transaction, instance: Instance, app: AppDefinition, message: str
    ) -> None:
        now = self._clock.now()
        tx.put_task_failure(
            TaskFailure(
                app_id=app.id,
                task_id=instance.id,
                state=instance.state,
                message=message,
                host=instance.host,
                version=instance.version,
                timestamp=now,
            )
        )
        if runs_current_config(instance, app):
            previous = tx.get_launch_delay(app.id)
            tx.put_launch_delay(record_launch_failure(app, previous, now))
