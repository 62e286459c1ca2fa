"""Launch backoff: how long an app waits before its next launch after instances failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from conveyor.domain.apps import AppDefinition


@dataclass(frozen=True)
class LaunchDelay:
    """An app's current launch delay. `failures` counts terminations since the last reset;
    no launch happens before `until`."""

    app_id: str
    failures: int
    delay_seconds: float
    since: datetime
    until: datetime
    version: datetime


def record_launch_failure(
    app: AppDefinition, previous: LaunchDelay | None, now: datetime
) -> LaunchDelay:
    """The delay after one more failed instance of `app` (Marathon's `RateLimiter.addDelay`).

    The first failure waits `backoffSeconds`; each further one multiplies the previous delay by
    `backoffFactor`; no delay exceeds `maxLaunchDelaySeconds`. Delays belong to an app's
    configuration (`versionInfo.lastConfigChangeAt`, stored as `version`): a scale keeps the
    delay, a configuration change or restart starts over. A delay also starts over when
    `maxLaunchDelaySeconds` have passed since it was set, as Marathon drops such delays."""
    cap = app.max_launch_delay_seconds
    if previous is not None and _continues(previous, app, now):
        failures = previous.failures + 1
        seconds = min(previous.delay_seconds * app.backoff_factor, cap)
    else:
        failures = 1
        seconds = min(app.backoff_seconds, cap)
    return LaunchDelay(
        app_id=app.id,
        failures=failures,
        delay_seconds=seconds,
        since=now,
        until=now + timedelta(seconds=seconds),
        version=app.version_info.last_config_change_at,
    )


def applies_to(delay: LaunchDelay, app: AppDefinition) -> bool:
    """True when `delay` was recorded for `app`'s current configuration."""
    return delay.app_id == app.id and delay.version == app.version_info.last_config_change_at


def launch_allowed_at(delay: LaunchDelay | None, app: AppDefinition) -> datetime | None:
    """When `app` may launch again; None when no delay applies to its configuration."""
    if delay is None or not applies_to(delay, app):
        return None
    return delay.until


def time_left_seconds(delay: LaunchDelay | None, now: datetime) -> int:
    """Whole seconds until the delay ends, never negative (the queue's `timeLeftSeconds`)."""
    if delay is None:
        return 0
    return max(0, int((delay.until - now).total_seconds()))


def is_overdue(delay: LaunchDelay | None, now: datetime) -> bool:
    """True once the delay has ended (the queue's `overdue`); with no delay a launch is overdue
    at once, as Marathon reports it. Pass only a delay that `applies_to` the app."""
    return delay is None or delay.until < now


def _continues(previous: LaunchDelay, app: AppDefinition, now: datetime) -> bool:
    expired_at = previous.since + timedelta(seconds=app.max_launch_delay_seconds)
    return applies_to(previous, app) and now <= expired_at
