from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.domain.apps import KillSelection, UpgradeStrategy
from conveyor.domain.instances import HealthResult, Instance, InstanceState
from conveyor.domain.restarts import (
    RestartStrategy,
    compute_restart_strategy,
    plan_restart_progress,
    select_instances_to_kill,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
OLD = T0
NEW = T0 + timedelta(hours=1)


def instance(
    instance_id: str,
    *,
    state: InstanceState = InstanceState.RUNNING,
    healthy: bool = True,
    version: datetime = OLD,
    staged_at: datetime = T0,
    started_at: datetime | None = None,
) -> Instance:
    return Instance(
        id=instance_id,
        app_id="/app",
        version=version,
        state=state,
        host="local",
        staged_at=staged_at,
        started_at=started_at,
        health=(HealthResult(alive=healthy),),
    )


def ids(instances: tuple[Instance, ...]) -> list[str]:
    return [i.id for i in instances]


# compute_restart_strategy


@pytest.mark.parametrize(
    ("instances", "min_health", "over", "running", "expected"),
    [
        (3, 1.0, 1.0, 3, (3, 6, 0)),
        (3, 0.5, 0.0, 3, (2, 3, 1)),
        (5, 0.5, 0.0, 5, (3, 5, 2)),
        (4, 0.0, 0.0, 4, (0, 4, 4)),
        (10, 1.0, 0.15, 10, (10, 11, 0)),
    ],
)
def test_restart_strategy_follows_marathons_arithmetic(
    instances: int, min_health: float, over: float, running: int, expected: tuple[int, int, int]
) -> None:
    strategy = compute_restart_strategy(instances, UpgradeStrategy(min_health, over), running)

    assert (strategy.min_healthy, strategy.max_capacity, strategy.kill_immediately) == expected


def test_full_health_without_over_capacity_gets_one_extra_instance_of_room() -> None:
    strategy = compute_restart_strategy(2, UpgradeStrategy(1.0, 0.0), running=2)

    assert (strategy.min_healthy, strategy.max_capacity, strategy.kill_immediately) == (2, 3, 0)


def test_no_extra_room_when_fewer_run_than_the_capacity() -> None:
    strategy = compute_restart_strategy(3, UpgradeStrategy(1.0, 0.0), running=2)

    assert (strategy.min_healthy, strategy.max_capacity) == (3, 3)


def test_kill_immediately_is_what_runs_beyond_min_healthy() -> None:
    strategy = compute_restart_strategy(2, UpgradeStrategy(1.0, 1.0), running=7)

    assert strategy.kill_immediately == 5


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        compute_restart_strategy(-1, UpgradeStrategy(), running=0)


# plan_restart_progress: single moves


def test_first_move_kills_beyond_min_healthy_and_launches_into_free_capacity() -> None:
    strategy = compute_restart_strategy(4, UpgradeStrategy(0.5, 0.0), running=4)
    old = [instance(f"old{n}") for n in range(4)]

    move = plan_restart_progress(target=4, strategy=strategy, old=old, new=[])

    assert len(move.kill) == 2
    assert move.launch == 0  # the killed ones still hold capacity until they are gone
    assert not move.done


def test_old_unhealthy_instances_are_killed_before_healthy_ones() -> None:
    strategy = compute_restart_strategy(3, UpgradeStrategy(0.5, 0.0), running=3)
    old = [instance("a"), instance("b", healthy=False), instance("c")]

    move = plan_restart_progress(target=3, strategy=strategy, old=old, new=[])

    assert move.kill == ("b",)


def test_each_healthy_new_instance_frees_one_old_one() -> None:
    strategy = compute_restart_strategy(2, UpgradeStrategy(1.0, 1.0), running=2)
    old = [instance("a"), instance("b")]
    new = [instance("n1", version=NEW), instance("n2", version=NEW, healthy=False)]

    move = plan_restart_progress(target=2, strategy=strategy, old=old, new=new)

    assert len(move.kill) == 1
    assert move.launch == 0


def test_restart_is_done_with_target_healthy_new_instances_and_no_old_ones() -> None:
    strategy = compute_restart_strategy(2, UpgradeStrategy(), running=2)
    new = [instance("n1", version=NEW), instance("n2", version=NEW)]

    move = plan_restart_progress(target=2, strategy=strategy, old=[], new=new)

    assert move == type(move)(kill=(), launch=0, done=True)


def test_old_instance_still_stopping_keeps_the_restart_going() -> None:
    strategy = compute_restart_strategy(1, UpgradeStrategy(), running=1)
    old = [instance("a", state=InstanceState.KILLING)]
    new = [instance("n1", version=NEW)]

    move = plan_restart_progress(target=1, strategy=strategy, old=old, new=new)

    assert move.kill == ()
    assert not move.done


def test_ended_instances_are_ignored() -> None:
    strategy = compute_restart_strategy(1, UpgradeStrategy(), running=1)
    old = [instance("a", state=InstanceState.KILLED)]
    new = [instance("n1", version=NEW), instance("n0", version=NEW, state=InstanceState.FAILED)]

    assert plan_restart_progress(target=1, strategy=strategy, old=old, new=new).done


def test_restart_to_zero_instances_kills_every_old_one() -> None:
    strategy = compute_restart_strategy(0, UpgradeStrategy(), running=2)

    move = plan_restart_progress(
        target=0, strategy=strategy, old=[instance("a"), instance("b")], new=[]
    )

    assert sorted(move.kill) == ["a", "b"]
    assert move.launch == 0


def test_surplus_new_instances_are_killed_unhealthy_first() -> None:
    strategy = compute_restart_strategy(1, UpgradeStrategy(), running=0)
    new = [instance("n1", version=NEW), instance("n2", version=NEW, healthy=False)]

    move = plan_restart_progress(target=1, strategy=strategy, old=[], new=new)

    assert move.kill == ("n2",)


def test_healthy_old_instance_may_go_one_below_min_healthy_when_capacity_leaves_no_room() -> None:
    strategy = compute_restart_strategy(3, UpgradeStrategy(1.0, 0.0), running=2)
    assert strategy.max_capacity == strategy.min_healthy == 3
    old = [instance("a"), instance("b")]
    new = [instance("n1", version=NEW)]

    move = plan_restart_progress(target=3, strategy=strategy, old=old, new=new)

    assert len(move.kill) == 1  # otherwise nothing could ever move: Marathon does the same


# plan_restart_progress: whole restarts


@dataclass
class World:
    """Instances of one app during a restart, changed by the plan's moves and by events."""

    old: dict[str, Instance]
    new: dict[str, Instance] = field(default_factory=dict)
    launched: int = 0

    def all(self) -> list[Instance]:
        return [*self.old.values(), *self.new.values()]

    def alive(self) -> list[Instance]:
        return [i for i in self.all() if i.state.is_active]

    def healthy(self) -> int:
        return sum(1 for i in self.alive() if i.is_healthy)

    def find(self, instance_id: str) -> Instance:
        return self.old.get(instance_id) or self.new[instance_id]

    def put(self, updated: Instance) -> None:
        side = self.old if updated.id in self.old else self.new
        side[updated.id] = updated

    def remove(self, instance_id: str) -> None:
        self.old.pop(instance_id, None)
        self.new.pop(instance_id, None)


@dataclass
class Budget:
    """Events that make things worse happen only so often, so a restart can finish."""

    new_failures: int
    sicknesses: int
    old_recoveries: int
    old_crashes: int


def check_move_keeps_the_invariants(
    world: World, strategy: RestartStrategy, target: int, kill: tuple[str, ...], launch: int
) -> None:
    alive_ids = {i.id for i in world.alive()}
    assert len(set(kill)) == len(kill)
    assert set(kill) <= alive_ids
    killed = [world.find(i) for i in kill]
    healthy_killed = sum(1 for i in killed if i.is_healthy)
    if healthy_killed:
        before = world.healthy()
        assert before >= strategy.min_healthy, "killed a healthy instance while below"
        assert before - healthy_killed >= strategy.healthy_floor
        if strategy.max_capacity > strategy.min_healthy:
            assert before - healthy_killed >= strategy.min_healthy
    old_killed = [i for i in killed if i.id in world.old]
    if any(i.is_healthy for i in old_killed):
        unhealthy_old = {i.id for i in world.old.values() if i.state.is_active and not i.is_healthy}
        assert unhealthy_old <= set(kill), "a healthy old instance went before an unhealthy one"
    if launch:
        assert len(world.all()) + launch <= strategy.max_capacity
        assert len([i for i in world.new.values() if i.state.is_active]) + launch <= target


def apply_move(world: World, kill: tuple[str, ...], launch: int) -> None:
    for instance_id in kill:
        world.put(replace(world.find(instance_id), state=InstanceState.KILLING))
    for _ in range(launch):
        world.launched += 1
        staged = instance(
            f"new{world.launched}", state=InstanceState.STAGING, healthy=False, version=NEW
        )
        world.new[staged.id] = staged


def possible_events(world: World, budget: Budget) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    for i in world.all():
        is_new = i.id in world.new
        if i.state is InstanceState.KILLING:
            events.append(("gone", i.id))
        elif i.state is InstanceState.STAGING:
            events.append(("started", i.id))
        elif is_new and not i.is_healthy:
            events.append(("healthy", i.id))
        if i.state.is_active and is_new and budget.new_failures:
            events.append(("failed", i.id))
        if i.is_healthy and budget.sicknesses:
            events.append(("sick", i.id))
        if not is_new and i.state.is_active and not i.is_healthy and budget.old_recoveries:
            events.append(("recovered", i.id))
        if not is_new and i.state.is_active and budget.old_crashes:
            events.append(("crashed", i.id))
    return events


def happen(world: World, budget: Budget, event: tuple[str, str]) -> None:
    kind, instance_id = event
    current = world.find(instance_id)
    if kind in ("gone", "failed", "crashed"):
        world.remove(instance_id)
    elif kind == "started":
        world.put(replace(current, state=InstanceState.RUNNING))
    else:
        world.put(replace(current, health=(HealthResult(alive=kind != "sick"),)))
    if kind == "failed":
        budget.new_failures -= 1
    elif kind == "sick":
        budget.sicknesses -= 1
    elif kind == "recovered":
        budget.old_recoveries -= 1
    elif kind == "crashed":
        budget.old_crashes -= 1


upgrade_strategies = st.builds(
    UpgradeStrategy,
    st.sampled_from([0.0, 0.25, 0.5, 0.7, 1.0]) | st.floats(0.0, 1.0),
    st.sampled_from([0.0, 0.15, 0.5, 1.0]) | st.floats(0.0, 1.0),
)


@settings(max_examples=300, deadline=None)
@given(
    target=st.integers(min_value=0, max_value=6),
    old_health=st.lists(st.booleans(), max_size=8),
    upgrade=upgrade_strategies,
    budget=st.builds(
        Budget,
        st.integers(0, 3),
        st.integers(0, 3),
        st.integers(0, 2),
        st.integers(0, 2),
    ),
    rnd=st.randoms(use_true_random=False),
)
def test_whole_restart_keeps_health_and_capacity_and_ends_with_the_new_version(
    target: int,
    old_health: list[bool],
    upgrade: UpgradeStrategy,
    budget: Budget,
    rnd: random.Random,
) -> None:
    """Random health outcomes and random orders of events, the plan asked after each one."""
    world = World(old={f"old{n}": instance(f"old{n}", healthy=h) for n, h in enumerate(old_health)})
    strategy = compute_restart_strategy(target, upgrade, len(old_health))

    for _ in range(2000):
        move = plan_restart_progress(
            target=target,
            strategy=strategy,
            old=list(world.old.values()),
            new=list(world.new.values()),
        )
        check_move_keeps_the_invariants(world, strategy, target, move.kill, move.launch)
        apply_move(world, move.kill, move.launch)
        assert len(world.alive()) <= strategy.max_capacity
        if move.done:
            break
        events = possible_events(world, budget)
        assert events, "the restart is stuck"
        happen(world, budget, rnd.choice(events))
    else:
        pytest.fail("the restart did not finish")

    assert not world.old
    alive_new = [i for i in world.new.values() if i.state.is_active]
    assert len(alive_new) == target
    assert all(i.is_healthy for i in alive_new)


# select_instances_to_kill


def test_scale_down_kills_unhealthy_then_staging_then_starting_then_healthy() -> None:
    instances = [
        instance("healthy", started_at=T0),
        instance("starting", state=InstanceState.STARTING),
        instance("staging", state=InstanceState.STAGING),
        instance("unhealthy", healthy=False, started_at=T0),
    ]

    chosen = select_instances_to_kill(instances, 4, KillSelection.YOUNGEST_FIRST)

    assert ids(chosen) == ["unhealthy", "staging", "starting", "healthy"]


def test_youngest_first_kills_the_latest_started() -> None:
    instances = [instance(f"i{n}", started_at=T0 + timedelta(minutes=n)) for n in range(4)]

    assert ids(select_instances_to_kill(instances, 2, KillSelection.YOUNGEST_FIRST)) == [
        "i3",
        "i2",
    ]


def test_oldest_first_kills_the_earliest_started() -> None:
    instances = [instance(f"i{n}", started_at=T0 + timedelta(minutes=n)) for n in range(4)]

    assert ids(select_instances_to_kill(instances, 2, KillSelection.OLDEST_FIRST)) == ["i0", "i1"]


def test_staging_instances_are_ordered_by_when_they_were_staged() -> None:
    instances = [
        instance(f"s{n}", state=InstanceState.STAGING, staged_at=T0 + timedelta(seconds=n))
        for n in range(3)
    ]

    assert ids(select_instances_to_kill(instances, 1, KillSelection.YOUNGEST_FIRST)) == ["s2"]


def test_instances_already_stopping_or_ended_are_not_chosen() -> None:
    instances = [
        instance("killing", state=InstanceState.KILLING),
        instance("gone", state=InstanceState.FAILED),
        instance("live", started_at=T0),
    ]

    assert ids(select_instances_to_kill(instances, 3, KillSelection.YOUNGEST_FIRST)) == ["live"]


@given(count=st.integers(-2, 10), size=st.integers(0, 6))
def test_never_more_than_asked_and_never_twice(count: int, size: int) -> None:
    instances = [instance(f"i{n}", started_at=T0 + timedelta(seconds=n % 3)) for n in range(size)]

    chosen = select_instances_to_kill(instances, count, KillSelection.YOUNGEST_FIRST)

    assert len(chosen) == min(max(count, 0), size)
    assert len(set(ids(chosen))) == len(chosen)
