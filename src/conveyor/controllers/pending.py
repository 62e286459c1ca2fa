"""Writes a control pass has decided but not yet stored.

A deployment's bookkeeping (a step begins, a step succeeded) usually comes right before the
launch or kill it leads to, and that launch must be stored before the engine is asked for it.
Keeping the bookkeeping here until then lets both share one commit: the next transaction the pass
opens applies these writes first, and the pass flushes whatever is left when it ends. A server
that stops before that loses only decisions, never facts: the next pass makes them again from
the stored state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.deployments import Deployment
from conveyor.domain.instances import Instance
from conveyor.store import Store, Transaction

Write = Callable[[Transaction], None]


class PendingWrites:
    def __init__(self) -> None:
        self._writes: list[Write] = []

    def add(self, write: Write) -> None:
        self._writes.append(write)

    def apply(self, tx: Transaction) -> None:
        """Write everything pending in `tx`, in the order it was added."""
        writes, self._writes = self._writes, []
        for write in writes:
            write(tx)

    def flush(self, store: Store) -> None:
        """Store what is still pending in a transaction of its own."""
        if self._writes:
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
