"""The health controller: runs every app's health checks against its running instances, stores
the results, announces changes, and kills instances that fail too often.

One small coroutine per (instance, check) runs the check every `intervalSeconds`; a sync pass
(on every wake-up, at least once a second) starts coroutines for new instances and stops those of
instances that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace

from conveyor.controllers.changes import ChangeWatch
from conveyor.controllers.instances import InstanceLifecycle
from conveyor.controllers.probes import run_probe
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.app_json import health_check_to_json
from conveyor.domain.apps import AppDefinition, HealthCheck
from conveyor.domain.clock import Clock
from conveyor.domain.environment import instance_environment
from conveyor.domain.event_json import (
    failed_health_check_event,
    health_status_changed_event,
    unhealthy_kill_event,
)
from conveyor.domain.events import Event
from conveyor.domain.health import (
    grace_period_end,
    is_failure_ignored,
    note_ignored_failure,
    record_health_outcome,
    should_kill_unhealthy,
)
from conveyor.domain.instances import Instance, InstanceState
from conveyor.store import Store

log = logging.getLogger(__name__)

CheckKey = tuple[str, int]
STARTUP_PROBE_SECONDS = 0.25


def is_instance_start(event: Event) -> bool:
    return event.type == "status_update_event" and event.payload.get("taskStatus") == (
        InstanceState.RUNNING.value
    )


@dataclass(frozen=True)
class Outcome:
    healthy: bool
    cause: str | None


class HealthController:
    def __init__(
        self,
        store: Store,
        lifecycle: InstanceLifecycle,
        clock: Clock,
        wakeup: Wakeup,
        *,
        sync_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock
        self._wakeup = wakeup
        self._sync_interval = sync_interval
        self._checkers: dict[CheckKey, asyncio.Task[None]] = {}

    async def run(self) -> None:
        changes = ChangeWatch(self._store, is_instance_start)
        try:
            while True:
                try:
                    self.sync()
                except Exception:
                    log.exception("health sync failed; retrying")
                await changes.wait(self._sync_interval)
        finally:
            await changes.close()
            for task in self._checkers.values():
                task.cancel()
            for task in self._checkers.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def sync(self) -> None:
        with self._store.transaction() as tx:
            apps = {app.id: app for app in tx.list_apps()}
            running = [i for i in tx.list_instances() if i.state is InstanceState.RUNNING]
        wanted: set[CheckKey] = set()
        for instance in running:
            app = apps.get(instance.app_id)
            if app is None or instance.version < app.version_info.last_config_change_at:
                app = self._app_at_launch(instance)
            checks = app.health_checks if app is not None else ()
            for index in range(min(len(checks), len(instance.health))):
                wanted.add((instance.id, index))
                if app is not None and (instance.id, index) not in self._checkers:
                    coroutine = self._check_forever(instance, index, app)
                    self._checkers[(instance.id, index)] = asyncio.create_task(coroutine)
        for key in set(self._checkers) - wanted:
            self._checkers.pop(key).cancel()

    def _app_at_launch(self, instance: Instance) -> AppDefinition | None:
        """An old instance keeps the checks (and environment) of the version it was launched
        with."""
        with self._store.transaction() as tx:
            return tx.get_app_version(instance.app_id, instance.version)

    async def _check_forever(self, instance: Instance, index: int, app: AppDefinition) -> None:
        """Probe every `intervalSeconds`; until the instance first passes, and while its grace
        period lasts, probe every STARTUP_PROBE_SECONDS instead: failures in that time do not
        count anyway, and a new instance is seen healthy as soon as it answers. A COMMAND check
        runs with the environment the instance was started with."""
        checks = app.health_checks
        check = checks[index]
        env = instance_environment(app, instance)
        starting = instance.health[index].first_success is None
        ignored_cause: str | None = None
        while True:
            healthy, cause = await run_probe(check, instance, env=env, starting=starting)
            in_grace = self._clock.now() < grace_period_end(instance, check)
            if healthy is False and starting and in_grace:
                # It does not count (`is_failure_ignored`); only a new cause is stored, so
                # `apps show` can say why the instance is not healthy yet.
                if cause != ignored_cause:
                    ignored_cause = cause
                    if not self._note_ignored(instance.id, index, cause):
                        return
            elif healthy is not None:
                outcome = Outcome(healthy=healthy, cause=cause)
                if not await self._record(instance.id, index, checks, outcome):
                    return
                starting = starting and not healthy
            quick = starting and in_grace
            await asyncio.sleep(STARTUP_PROBE_SECONDS if quick else max(check.interval_seconds, 1))

    def _note_ignored(self, instance_id: str, index: int, cause: str | None) -> bool:
        """Keep the cause of a failure that does not count; False when the instance is no
        longer checked."""
        with self._store.transaction() as tx:
            current = tx.get_instance(instance_id)
            if current is None or current.state is not InstanceState.RUNNING:
                return False
            results = list(current.health)
            noted = note_ignored_failure(results[index], cause=cause, now=self._clock.now())
            results[index] = noted
            tx.put_instance(replace(current, health=tuple(results)))
        return True

    async def _record(
        self, instance_id: str, index: int, checks: tuple[HealthCheck, ...], outcome: Outcome
    ) -> bool:
        """Store one outcome; False when the instance is no longer checked."""
        check, healthy, cause = checks[index], outcome.healthy, outcome.cause
        now = self._clock.now()
        with self._store.transaction() as tx:
            current = tx.get_instance(instance_id)
            if current is None or current.state is not InstanceState.RUNNING:
                return False
            results = list(current.health)
            before = results[index]
            if not healthy and is_failure_ignored(current, check, before, now):
                return True  # inside the grace period of a never-healthy instance
            results[index] = record_health_outcome(before, healthy=healthy, cause=cause, now=now)
            updated = replace(current, health=tuple(results))
            if updated != current:
                tx.put_instance(updated)
            check_json = health_check_to_json(check)
            if not healthy:
                payload = failed_health_check_event(updated, health_check=check_json, at=now)
                tx.append_event("failed_health_check_event", payload, at=now)
            if before.alive != results[index].alive or (before.first_success is None and healthy):
                payload = health_status_changed_event(updated, alive=healthy, at=now)
                tx.append_event("health_status_changed_event", payload, at=now)
                self._wakeup.ring()
            doomed = should_kill_unhealthy(updated, checks, now)
            if doomed:
                reason = cause or "health check failed"
                payload = unhealthy_kill_event(
                    updated, health_check=check_json, reason=reason, at=now
                )
                tx.append_event("unhealthy_instance_kill_event", payload, at=now)
        if doomed:
            log.info("killing unhealthy instance %s: %s", instance_id, cause)
            await self._lifecycle.kill(updated, message=f"unhealthy: {cause}")
            return False
        return True
