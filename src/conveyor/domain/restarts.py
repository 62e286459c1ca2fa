"""Rolling restarts and scaling down: which instances to kill and how many to launch.

Marathon's `TaskReplaceActor` computes a restart strategy once, from the number of instances
running when the restart begins, and then reacts to events: it kills `kill_immediately` old
instances at once and one more old instance each time a new one becomes healthy, and launches
new instances while old + new stay within `max_capacity`. `plan_restart_progress` gives the same
decisions from a snapshot, so a controller can call it after any change (or after a server
restart) and act on what it returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conveyor.domain.apps import KillSelection, UpgradeStrategy
from conveyor.domain.instances import Instance, InstanceState


@dataclass(frozen=True)
class RestartStrategy:
    """How a restart may proceed (Marathon's `computeRestartStrategy`)."""

    min_healthy: int
    """Healthy instances (old and new) to keep while replacing: ceil(n × minimumHealthCapacity)."""
    max_capacity: int
    """Most instances (old and new, including those still stopping) at any time."""
    kill_immediately: int
    """Old instances killed before any new one is healthy: running − min_healthy, at least 0."""
    running_at_start: int
    """Active instances when the restart began."""

    @property
    def healthy_floor(self) -> int:
        """Fewest healthy instances a kill may leave: `min_healthy`, or one less when capacity
        leaves no room above it (then, as in Marathon, an old instance must go before the next
        new one can start)."""
        if self.max_capacity > self.min_healthy:
            return self.min_healthy
        return max(0, self.min_healthy - 1)

    @property
    def old_to_keep(self) -> int:
        """Old instances kept until new ones become healthy (each healthy new one frees one)."""
        return self.running_at_start - self.kill_immediately


@dataclass(frozen=True)
class RestartMove:
    """What to do now: kill these instances, launch this many new ones. `done` when the app runs
    exactly its target number of healthy new instances and no old instance is left."""

    kill: tuple[str, ...]
    launch: int
    done: bool


def compute_restart_strategy(
    instances: int, strategy: UpgradeStrategy, running: int
) -> RestartStrategy:
    """Marathon's arithmetic for restarting to `instances` instances while `running` run.

    When min_healthy equals max_capacity and the running instances already fill it, one extra
    instance of capacity is allowed so that the restart can start at all. (Marathon computes in
    floating point: ceil(100 × 0.07) is 8; so does this.)"""
    if instances < 0 or running < 0:
        raise ValueError(f"instances ({instances}) and running ({running}) must not be negative")
    min_healthy = math.ceil(instances * strategy.minimum_health_capacity)
    max_capacity = math.floor(instances * (1 + strategy.maximum_over_capacity))
    if min_healthy == max_capacity and max_capacity <= running:
        max_capacity += 1
    return RestartStrategy(
        min_healthy=min_healthy,
        max_capacity=max_capacity,
        kill_immediately=max(0, running - min_healthy),
        running_at_start=running,
    )


def plan_restart_progress(
    *,
    target: int,
    strategy: RestartStrategy,
    old: Sequence[Instance],
    new: Sequence[Instance],
) -> RestartMove:
    """The next move of a restart towards `target` instances of the new version.

    `old` and `new` are the app's instances of the previous and of the new configuration; ended
    ones are ignored, those being killed still take capacity. As in Marathon, old instances go
    down to `strategy.old_to_keep` minus the healthy new ones, unhealthy ones first. A healthy
    instance is killed only while at least `min_healthy` are healthy, and never below
    `strategy.healthy_floor`. Launches keep old + new within `max_capacity`; the caller records
    launched instances (as staging) before it asks again."""
    old_present = [i for i in old if not i.state.is_terminal]
    new_present = [i for i in new if not i.state.is_terminal]
    old_alive = [i for i in old_present if i.state.is_active]
    new_alive = [i for i in new_present if i.state.is_active]
    surplus = _unhealthy_first(new_alive)[: max(0, len(new_alive) - target)]
    kept_new = _without(new_alive, surplus)
    healthy_new = _count_healthy(kept_new)
    spare = _count_healthy(old_alive) + healthy_new - strategy.healthy_floor
    excess_old = len(old_alive) - max(0, strategy.old_to_keep - healthy_new)
    doomed = [*_old_to_kill(old_alive, excess_old, healthy_allowed=spare), *surplus]
    room = strategy.max_capacity - len(old_present) - len(new_present)
    launch = max(0, min(target - len(new_alive), room))
    done = not old_present and len(new_alive) == target and healthy_new == target
    return RestartMove(kill=tuple(i.id for i in doomed), launch=launch, done=done)


def select_instances_to_kill(
    instances: Sequence[Instance], count: int, selection: KillSelection
) -> tuple[Instance, ...]:
    """Which `count` active instances to kill when scaling down, in kill order.

    Marathon's order (`ScalingProposition.sortByConditionAndDate`, with the health it documents
    but leaves as a TODO): running but unhealthy, then staging, then starting, then healthy;
    within each, `selection` decides by launch time (staging, starting) or start time
    (running). Ties fall back to the id, so the choice is stable."""
    candidates = [i for i in instances if i.state.is_active]
    ordered = sorted(candidates, key=lambda i: i.id)
    ordered.sort(key=_moment, reverse=selection is _YOUNGEST)
    ordered.sort(key=_kill_rank)
    return tuple(ordered[: max(0, count)])


_YOUNGEST = KillSelection.YOUNGEST_FIRST

_RANK_OF_STATE = {InstanceState.STAGING: 1, InstanceState.STARTING: 2}


def _kill_rank(instance: Instance) -> int:
    if instance.state is InstanceState.RUNNING:
        return 3 if instance.is_healthy else 0
    return _RANK_OF_STATE.get(instance.state, 3)


def _moment(instance: Instance) -> datetime:
    """When the instance started running, else when it was staged."""
    if instance.state is InstanceState.RUNNING and instance.started_at is not None:
        return instance.started_at
    return instance.staged_at


def _old_to_kill(
    old_alive: Sequence[Instance], count: int, *, healthy_allowed: int
) -> list[Instance]:
    """Up to `count` old instances, the unhealthy ones first and at most `healthy_allowed`
    healthy ones."""
    unhealthy = [i for i in old_alive if not i.is_healthy]
    healthy = [i for i in old_alive if i.is_healthy]
    victims = unhealthy[: max(0, count)]
    return [*victims, *healthy[: max(0, min(count - len(victims), healthy_allowed))]]


def _without(instances: Sequence[Instance], removed: Sequence[Instance]) -> list[Instance]:
    removed_ids = {i.id for i in removed}
    return [i for i in instances if i.id not in removed_ids]


def _count_healthy(instances: Sequence[Instance]) -> int:
    return sum(1 for i in instances if i.is_healthy)


def _unhealthy_first(instances: Sequence[Instance]) -> list[Instance]:
    """Stable: among equally healthy instances the caller's order decides."""
    return sorted(instances, key=lambda i: i.is_healthy)
