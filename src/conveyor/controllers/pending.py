"""Writes a control pass has decided but not yet stored.

A deployment's bookkeeping (a step begins, a step succeeded) usually comes right before the
launch or kill it leads to, and that launch must be stored before the engine is asked for it.
Keeping the bookkeeping here until then lets both share one commit: the next transaction the pass
opens applies these writes first, and the pass flushes whatever is left when it ends. A server
that stops before that loses only decisions, never facts: the next pass makes them again from
the stored state.

What a pass decides about one deployment is kept as one `DeploymentChange`: however many steps it
went through, the deployment is written once, in its latest state, after its events. The write
only lands if the deployment is still stored: one cancelled through the API meanwhile must not
come back, and then its events are dropped too.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.deployments import Deployment
from conveyor.domain.documents import JsonObject
from conveyor.domain.instances import Instance
from conveyor.store import Store, Transaction

log = logging.getLogger(__name__)

Write = Callable[[Transaction], None]


@dataclass(frozen=True)
class Announcement:
    """An event to append: its type, its payload and when it happened."""

    event_type: str
    payload: JsonObject
    at: datetime


@dataclass
class DeploymentChange:
    """A deployment's latest state as decided by a pass, and the events that tell how it got
    there, in order. A deployment no longer running is deleted and its outcome kept, dated by
    the last event (which tells that it ended)."""

    state: Deployment
    announcements: list[Announcement] = field(default_factory=list)

    def store(self, tx: Transaction) -> None:
        deployment = self.state
        if deployment.is_active:
            stored = tx.update_deployment(deployment)
        else:
            stored = tx.delete_deployment(deployment.id)
        if not stored:
            return
        for announcement in self.announcements:
            tx.append_event(announcement.event_type, announcement.payload, at=announcement.at)
        if not deployment.is_active:
            ended_at = self.announcements[-1].at  # the event that tells it ended
            tx.put_deployment_outcome(deployment.id, deployment.status, at=ended_at)
            log.info("deployment %s %s", deployment.id, deployment.status.value)


class PendingWrites:
    def __init__(self) -> None:
        self._writes: list[Write] = []
        self._deployments: dict[str, DeploymentChange] = {}

    def add(self, write: Write) -> None:
        self._writes.append(write)

    def change_deployment(self, deployment: Deployment, *announcements: Announcement) -> None:
        """`deployment` is now in this state, as `announcements` tell (after those already
        pending for it)."""
        change = self._deployments.get(deployment.id)
        if change is None:
            self._deployments[deployment.id] = DeploymentChange(deployment, list(announcements))
        else:
            change.state = deployment
            change.announcements.extend(announcements)

    def apply(self, tx: Transaction) -> None:
        """Write everything pending in `tx`: each deployment once, then the other writes in the
        order they were added."""
        changes, self._deployments = self._deployments, {}
        writes, self._writes = self._writes, []
        for change in changes.values():
            change.store(tx)
        for write in writes:
            write(tx)

    def flush(self, store: Store) -> None:
        """Store what is still pending in a transaction of its own."""
        if self._writes or self._deployments:
            with store.transaction() as tx:
                self.apply(tx)


@dataclass
class PassView:
    """What one pass of the apps controller read, in one transaction, and the writes it has
    decided on but not yet stored."""

    apps: dict[str, AppDefinition]
    instances: dict[str, list[Instance]]
    deployments: list[Deployment]
    delays: dict[str, LaunchDelay]
    pending: PendingWrites = field(default_factory=PendingWrites)

    @classmethod
    def read(cls, tx: Transaction) -> PassView:
        by_app: dict[str, list[Instance]] = defaultdict(list)
        for instance in tx.list_instances():
            by_app[instance.app_id].append(instance)
        return cls(
            apps={app.id: app for app in tx.list_apps()},
            instances=by_app,
            deployments=[d for d in tx.list_deployments() if d.is_active],
            delays={delay.app_id: delay for delay in tx.list_launch_delays()},
        )

    def instances_of(self, app_id: str) -> list[Instance]:
        return self.instances.get(app_id, [])
