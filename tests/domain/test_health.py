from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.apps import HealthCheck
from conveyor.domain.health import (
    describe_http_status,
    grace_period_end,
    interpret_http_status,
    is_failure_ignored,
    note_ignored_failure,
    record_health_outcome,
    should_kill_unhealthy,
)
from conveyor.domain.instances import HealthResult, Instance, InstanceState

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def instance(
    *results: HealthResult,
    state: InstanceState = InstanceState.RUNNING,
    started_at: datetime | None = T0,
) -> Instance:
    return Instance(
        id="app.1",
        app_id="/app",
        version=T0,
        state=state,
        host="local",
        staged_at=T0 - timedelta(seconds=5),
        started_at=started_at,
        health=results,
    )


def check(*, grace: int = 60, max_failures: int = 3) -> HealthCheck:
    return HealthCheck(grace_period_seconds=grace, max_consecutive_failures=max_failures)


def failed(times: int, *, first_success: datetime | None = None) -> HealthResult:
    return HealthResult(
        alive=False,
        consecutive_failures=times,
        first_success=first_success,
        last_success=first_success,
        last_failure=seconds(500),
        last_failure_cause="HTTP 500",
    )


# record_health_outcome


def test_first_success_is_recorded_once_and_makes_the_instance_alive() -> None:
    first = record_health_outcome(HealthResult(), healthy=True, cause=None, now=seconds(1))
    second = record_health_outcome(first, healthy=True, cause=None, now=seconds(2))

    assert first.alive
    assert (second.first_success, second.last_success) == (seconds(1), seconds(2))


def test_failure_counts_and_keeps_its_cause() -> None:
    healthy = record_health_outcome(HealthResult(), healthy=True, cause=None, now=seconds(1))
    once = record_health_outcome(healthy, healthy=False, cause="HTTP 503", now=seconds(2))
    twice = record_health_outcome(once, healthy=False, cause="timeout", now=seconds(3))

    assert not once.alive
    assert twice.consecutive_failures == 2
    assert (twice.last_failure, twice.last_failure_cause) == (seconds(3), "timeout")
    assert twice.last_success == seconds(1)


def test_success_clears_consecutive_failures_but_keeps_the_last_failure() -> None:
    result = record_health_outcome(failed(5), healthy=True, cause=None, now=seconds(600))

    assert result.alive
    assert result.consecutive_failures == 0
    assert result.last_failure == seconds(500)
    assert result.last_failure_cause == "HTTP 500"


@given(st.lists(st.booleans(), max_size=30), st.booleans())
def test_alive_means_the_last_outcome_was_a_success(outcomes: list[bool], still: bool) -> None:
    """Also when the clock does not move on between outcomes (`still`)."""
    result = HealthResult()
    for n, healthy in enumerate(outcomes):
        now = seconds(0) if still else seconds(n)
        result = record_health_outcome(result, healthy=healthy, cause="bad", now=now)

    trailing_failures = 0
    for healthy in reversed(outcomes):
        if healthy:
            break
        trailing_failures += 1
    assert result.alive == (bool(outcomes) and outcomes[-1])
    assert result.consecutive_failures == trailing_failures


# grace period and killing


def test_failures_inside_the_grace_period_are_ignored_until_the_first_success() -> None:
    never_healthy = HealthResult()
    was_healthy = HealthResult(alive=True, first_success=seconds(5), last_success=seconds(5))

    assert is_failure_ignored(instance(never_healthy), check(grace=60), never_healthy, seconds(30))
    assert not is_failure_ignored(instance(was_healthy), check(grace=60), was_healthy, seconds(30))
    assert not is_failure_ignored(
        instance(never_healthy), check(grace=60), never_healthy, seconds(60)
    )


def test_failures_of_an_instance_that_is_not_running_are_ignored() -> None:
    result = HealthResult()
    staging = instance(result, state=InstanceState.STAGING, started_at=None)

    assert is_failure_ignored(staging, check(grace=0), result, seconds(1000))


def test_grace_period_counts_from_the_start_of_the_instance() -> None:
    assert grace_period_end(instance(), check(grace=60)) == seconds(60)
    assert grace_period_end(instance(started_at=None), check(grace=60)) == seconds(55)


def test_instance_is_killed_when_failures_reach_the_maximum() -> None:
    checks = [check(max_failures=3)]

    assert not should_kill_unhealthy(instance(failed(2)), checks, seconds(1000))
    assert should_kill_unhealthy(instance(failed(3)), checks, seconds(1000))


def test_zero_max_consecutive_failures_never_kills() -> None:
    assert not should_kill_unhealthy(instance(failed(100)), [check(max_failures=0)], seconds(1000))


def test_never_healthy_instance_is_not_killed_inside_the_grace_period() -> None:
    checks = [check(grace=300, max_failures=3)]

    assert not should_kill_unhealthy(instance(failed(3)), checks, seconds(299))
    assert should_kill_unhealthy(instance(failed(3)), checks, seconds(300))


def test_instance_that_was_healthy_once_is_killed_even_inside_the_grace_period() -> None:
    result = failed(3, first_success=seconds(1))

    assert should_kill_unhealthy(instance(result), [check(grace=300)], seconds(10))


def test_any_one_failing_check_kills() -> None:
    healthy = HealthResult(alive=True, first_success=T0, last_success=T0)
    checks = [check(max_failures=3), check(max_failures=1)]

    assert should_kill_unhealthy(instance(healthy, failed(1)), checks, seconds(1000))


def test_instance_already_being_killed_is_not_killed_again() -> None:
    stopping = instance(failed(10), state=InstanceState.KILLING)

    assert not should_kill_unhealthy(stopping, [check()], seconds(1000))


# HTTP statuses


@pytest.mark.parametrize(
    ("status", "ignore_1xx", "verdict"),
    [
        (200, False, True),
        (204, False, True),
        (301, False, True),
        (399, False, True),
        (400, False, False),
        (404, True, False),
        (500, False, False),
        (503, True, False),
        (100, False, False),
        (101, True, None),
        (199, True, None),
    ],
)
def test_http_status_verdict_matches_marathon(
    status: int, ignore_1xx: bool, verdict: bool | None
) -> None:
    assert interpret_http_status(status, ignore_http1xx=ignore_1xx) is verdict


def test_http_failure_cause_reads_like_marathons() -> None:
    assert describe_http_status(503) == "503 Service Unavailable"
    assert describe_http_status(599) == "599"


def test_an_ignored_failure_keeps_its_cause_but_counts_nothing() -> None:
    before = HealthResult(consecutive_failures=0)
    noted = note_ignored_failure(before, cause="HTTP 404 from http://h/health", now=T0)
    assert noted.last_failure_cause == "HTTP 404 from http://h/health"
    assert noted.last_failure == T0
    assert noted.consecutive_failures == 0
    assert noted.alive is False
