"""Bringing an app to its instance count: launch what is missing (after backoff, where it can be
placed), kill what is extra. Shared by the steady-state loop and deployment actions."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.controllers.instances import InstanceLifecycle
from conveyor.controllers.pending import PassView, PendingWrites
from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import launch_allowed_at
from conveyor.domain.clock import Clock
from conveyor.domain.constraints import NodeView, Unplaceable, place_instance
from conveyor.domain.instances import Instance
from conveyor.domain.queue import unplaced_key
from conveyor.domain.restarts import select_instances_to_kill
from conveyor.engines import Engine
from conveyor.store import Transaction


class Scaler:
    def __init__(self, engine: Engine, lifecycle: InstanceLifecycle, clock: Clock) -> None:
        self._engine = engine
        self._lifecycle = lifecycle
        self._clock = clock
        self._unplaced: dict[str, str | None] = {}

    def _nodes(self) -> list[NodeView]:
        return [NodeView(node.hostname, dict(node.attributes)) for node in self._engine.nodes]

    def is_launch_delayed(self, app: AppDefinition, view: PassView) -> bool:
        allowed_at = launch_allowed_at(view.delays.get(app.id), app)
        return allowed_at is not None and allowed_at > self._clock.now()

    async def launch(
        self, app: AppDefinition, count: int, running: Sequence[Instance], view: PassView
    ) -> int:
        """Launch up to `count` instances, together; returns how many were started."""
        if count <= 0 or self.is_launch_delayed(app, view):
            return 0
        placed = list(running)
        stagings: list[Instance] = []
        reason: str | None = None
        for _ in range(count):
            placement = place_instance(app, self._nodes(), placed)
            if isinstance(placement, Unplaceable):
                reason = placement.reason
                break
            staging = self._lifecycle.staging(app, node=placement.node)
            stagings.append(staging)
            placed.append(staging)
        self._remember_unplaced(app.id, reason, view.pending)
        if not stagings:
            return 0
        return len(await self._lifecycle.launch(app, stagings, pending=view.pending))

    def _remember_unplaced(self, app_id: str, reason: str | None, pending: PendingWrites) -> None:
        """Store why the app's instances wait (for /v2/queue), when that changed."""
        if self._unplaced.get(app_id, "unknown") == reason:
            return

        def store(tx: Transaction) -> None:
            if tx.get_value(unplaced_key(app_id)) != reason:
                tx.put_value(unplaced_key(app_id), reason)
            self._unplaced[app_id] = reason

        pending.add(store)

    def forget_gone(self, view: PassView) -> None:
        """Drop what was noted for apps that are gone, the stored note too."""
        gone = [unplaced_key(app_id) for app_id in self._unplaced if app_id not in view.apps]
        if not gone:
            return
        self._unplaced = {a: r for a, r in self._unplaced.items() if a in view.apps}

        def forget(tx: Transaction) -> None:
            tx.delete_values(*gone)

        view.pending.add(forget)

    async def scale(self, app: AppDefinition, view: PassView) -> None:
        """Launch or kill so that `app.instances` instances are active."""
        active = [instance for instance in view.instances_of(app.id) if instance.state.is_active]
        missing = app.instances - len(active)
        if missing > 0:
            await self.launch(app, missing, active, view)
        elif missing < 0:
            for victim in select_instances_to_kill(active, -missing, app.kill_selection):
                await self._lifecycle.kill(victim, message="scaled down", pending=view.pending)
