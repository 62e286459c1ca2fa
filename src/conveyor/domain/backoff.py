"""Launch backoff: how long an app waits before its next launch after instances failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
