"""Health checks: bookkeeping of results and when an unhealthy instance is killed.

The rules are Marathon's (`Health`, `HealthCheckActor`, `HealthCheckWorker`):

- a success sets firstSuccess (once) and lastSuccess and clears consecutiveFailures; a failure
  sets lastFailure and lastFailureCause and counts one more consecutive failure;
- an instance is alive when its last success is later than its last failure;
- failures of an instance that is not running, or that has never been healthy and is still
  inside the check's grace period, are ignored: not recorded, not counted;
- an instance is killed once a check's consecutive failures reach maxConsecutiveFailures
  (0 turns killing off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from http import HTTPStatus

from conveyor.domain.apps import HealthCheck
from conveyor.domain.instances import HealthResult, Instance, InstanceState


def record_health_outcome(
    result: HealthResult, *, healthy: bool, cause: str | None, now: datetime
) -> HealthResult:
    """`result` after one more check outcome. Callers skip failures that `is_failure_ignored`."""
    if healthy:
        first_success = result.first_success or now
        return replace(
            result,
            alive=True,  # the newest outcome, whatever the clock says of the last failure
            consecutive_failures=0,
            first_success=first_success,
            last_success=now,
        )
    return replace(
        result,
        alive=False,
        consecutive_failures=result.consecutive_failures + 1,
        last_failure=now,
        last_failure_cause=cause,
    )


def note_ignored_failure(result: HealthResult, *, cause: str | None, now: datetime) -> HealthResult:
    """`result` after a failure that does not count (`is_failure_ignored`): its cause and time
    are kept, so a person can see why an instance is not healthy yet, but nothing is counted."""
    return replace(result, last_failure=now, last_failure_cause=cause)


def is_failure_ignored(
    instance: Instance, check: HealthCheck, result: HealthResult, now: datetime
) -> bool:
    """True when a failure of `check` at `now` does not count: the instance is not running, or
    it has never passed the check and is inside the grace period since it started."""
    if instance.state is not InstanceState.RUNNING:
        return True
    if result.first_success is not None:
        return False
    return now < grace_period_end(instance, check)


def grace_period_end(instance: Instance, check: HealthCheck) -> datetime:
    """When failures of a never-healthy instance start to count: its start (else its staging)
    plus the check's grace period."""
    started = instance.started_at or instance.staged_at
    return started + timedelta(seconds=check.grace_period_seconds)


def should_kill_unhealthy(instance: Instance, checks: Sequence[HealthCheck], now: datetime) -> bool:
    """True when one of `checks` (paired by position with `instance.health`) has failed
    `maxConsecutiveFailures` times in a row, outside the grace period, on a running instance."""
    return any(
        _has_failed_too_often(check, result)
        and not is_failure_ignored(instance, check, result, now)
        for check, result in zip(checks, instance.health, strict=False)
    )


def interpret_http_status(status: int, *, ignore_http1xx: bool) -> bool | None:
    """An HTTP check's verdict: 2xx and 3xx are healthy; 1xx gives no verdict (None) when the
    check ignores them and is unhealthy otherwise, like every other status."""
    if 200 <= status < 400:
        return True
    if ignore_http1xx and 100 <= status < 200:
        return None
    return False


def describe_http_status(status: int) -> str:
    """A failed HTTP check's cause as Marathon words it: `503 Service Unavailable`."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _has_failed_too_often(check: HealthCheck, result: HealthResult) -> bool:
    limit = check.max_consecutive_failures
    return limit > 0 and result.consecutive_failures >= limit
