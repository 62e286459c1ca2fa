from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.backoff import (
    LaunchDelay,
    applies_to,
    is_overdue,
    launch_allowed_at,
    record_launch_failure,
    time_left_seconds,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def app(
    *,
    backoff: float = 1.0,
    factor: float = 1.15,
    cap: float = 3600.0,
    config_at: datetime = T0,
    version: datetime | None = None,
) -> AppDefinition:
    return AppDefinition(
        id="/app",
        version=version or config_at,
        version_info=VersionInfo(
            last_scaling_at=version or config_at, last_config_change_at=config_at
        ),
        cmd="false",
        backoff_seconds=backoff,
        backoff_factor=factor,
        max_launch_delay_seconds=cap,
    )


def failures(definition: AppDefinition, count: int) -> list[LaunchDelay]:
    """`count` failures in a row, each as soon as the previous delay allowed a relaunch."""
    delays: list[LaunchDelay] = []
    previous: LaunchDelay | None = None
    for _ in range(count):
        now = T0 if previous is None else previous.until
        previous = record_launch_failure(definition, previous, now)
        delays.append(previous)
    return delays


def test_first_failure_waits_backoff_seconds() -> None:
    delay = record_launch_failure(app(backoff=2.0), None, T0)

    assert delay.delay_seconds == 2.0
    assert delay.failures == 1
    assert delay.since == T0
    assert delay.until == T0 + timedelta(seconds=2)
    assert delay.version == T0


def test_each_further_failure_multiplies_the_delay_by_the_factor() -> None:
    delays = failures(app(backoff=1.0, factor=2.0), 4)

    assert [d.delay_seconds for d in delays] == [1.0, 2.0, 4.0, 8.0]
    assert [d.failures for d in delays] == [1, 2, 3, 4]


def test_delay_stops_growing_at_max_launch_delay() -> None:
    delays = failures(app(backoff=10.0, factor=10.0, cap=50.0), 3)

    assert [d.delay_seconds for d in delays] == [10.0, 50.0, 50.0]


def test_first_delay_is_capped_too() -> None:
    assert record_launch_failure(app(backoff=100.0, cap=5.0), None, T0).delay_seconds == 5.0


def test_new_configuration_starts_the_delay_over() -> None:
    before = failures(app(factor=2.0), 3)[-1]
    changed = app(factor=2.0, config_at=T0 + timedelta(minutes=1))

    delay = record_launch_failure(changed, before, T0 + timedelta(minutes=2))

    assert (delay.delay_seconds, delay.failures) == (1.0, 1)
    assert delay.version == changed.version_info.last_config_change_at


def test_scaling_keeps_the_delay_as_marathon_keys_it_by_configuration() -> None:
    before = failures(app(factor=2.0), 2)[-1]
    scaled = replace(app(factor=2.0, version=T0 + timedelta(minutes=1)), instances=5)

    assert launch_allowed_at(before, scaled) == before.until
    assert record_launch_failure(scaled, before, T0 + timedelta(seconds=3)).delay_seconds == 4.0


def test_delay_older_than_max_launch_delay_starts_over() -> None:
    definition = app(factor=2.0, cap=60.0)
    before = failures(definition, 3)[-1]

    later = record_launch_failure(definition, before, before.since + timedelta(seconds=61))

    assert (later.delay_seconds, later.failures) == (1.0, 1)


def test_no_delay_means_no_wait() -> None:
    assert launch_allowed_at(None, app()) is None


def test_delay_of_an_older_configuration_does_not_hold_a_new_one() -> None:
    delay = failures(app(), 1)[0]
    changed = app(config_at=T0 + timedelta(seconds=30))

    assert not applies_to(delay, changed)
    assert launch_allowed_at(delay, changed) is None
    assert launch_allowed_at(delay, app()) == delay.until


def test_queue_reports_whole_seconds_left_and_whether_the_delay_is_over() -> None:
    delay = record_launch_failure(app(backoff=10.0), None, T0)

    assert time_left_seconds(delay, T0 + timedelta(seconds=2.5)) == 7
    assert not is_overdue(delay, T0 + timedelta(seconds=2.5))
    assert time_left_seconds(delay, T0 + timedelta(seconds=11)) == 0
    assert is_overdue(delay, T0 + timedelta(seconds=11))


def test_without_a_delay_the_queue_shows_zero_seconds_and_overdue() -> None:
    assert time_left_seconds(None, T0) == 0
    assert is_overdue(None, T0)


backoffs = st.floats(min_value=0.001, max_value=100.0)
factors = st.floats(min_value=1.0, max_value=5.0)
caps = st.floats(min_value=0.001, max_value=10_000.0)


@given(backoff=backoffs, factor=factors, cap=caps, count=st.integers(1, 40))
@example(backoff=0.1, factor=2.0, cap=0.3, count=3)
def test_delays_grow_by_the_factor_and_never_exceed_the_cap(
    backoff: float, factor: float, cap: float, count: int
) -> None:
    delays = failures(app(backoff=backoff, factor=factor, cap=cap), count)

    assert delays[0].delay_seconds == min(backoff, cap)
    for before, after in itertools.pairwise(delays):
        assert after.delay_seconds == pytest.approx(min(before.delay_seconds * factor, cap))
        assert before.delay_seconds <= after.delay_seconds <= cap
        assert after.failures == before.failures + 1
        assert after.until - after.since == timedelta(seconds=after.delay_seconds)


@given(backoff=backoffs, factor=factors, cap=caps, count=st.integers(1, 10))
def test_any_new_configuration_resets_the_delay(
    backoff: float, factor: float, cap: float, count: int
) -> None:
    before = failures(app(backoff=backoff, factor=factor, cap=cap), count)[-1]
    changed = app(backoff=backoff, factor=factor, cap=cap, config_at=T0 + timedelta(hours=1))

    after = record_launch_failure(changed, before, T0 + timedelta(hours=2))

    assert after.failures == 1
    assert after.delay_seconds == min(backoff, cap)
