"""A crash-looping app backs off — each delay the previous one times backoffFactor, visible in
/v2/queue — and recovers as soon as a fixed version is deployed."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


def test_crash_looping_app_backs_off_and_recovers_with_a_fixed_version(
    server: ServerProcess,
) -> None:
    app = {
        "id": "/crashy",
        "cmd": "echo starting; exit 3",
        "instances": 1,
        "cpus": 0.1,
        "mem": 32,
        "backoffSeconds": 1,
        "backoffFactor": 2,
        "maxLaunchDelaySeconds": 60,
    }
    assert httpx.post(f"{server.url}/v2/apps", json=app).status_code == 201

    delays: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + 30
    while len(failures) < 4 and time.monotonic() < deadline:
        queue = httpx.get(f"{server.url}/v2/queue").json()["queue"]
        for item in queue:
            if item["app"]["id"] == "/crashy":
                delays.append(item["delay"]["timeLeftSeconds"])
        failure = httpx.get(f"{server.url}/v2/apps/crashy").json()["app"].get("lastTaskFailure")
        if failure and (not failures or failures[-1] != failure["timestamp"]):
            failures.append(failure["timestamp"])
        time.sleep(0.05)
    assert len(failures) >= 4, failures
    assert max(delays) >= 1, delays  # 1, 2, 4, 8 s: the queue shows whole seconds left
    gaps = _gaps(failures)
    for shorter, longer in itertools.pairwise(gaps):
        assert longer > shorter * 1.5, gaps  # each wait about twice the one before

    fixed = {**app, "cmd": "exec sleep 1000"}
    # the first deployment never finishes (nothing stays up), so the fix overrides it
    response = httpx.put(f"{server.url}/v2/apps/crashy?force=true", json=fixed)
    assert response.status_code == 200, response.text
    started = time.monotonic()
    wait_for(
        lambda: httpx.get(f"{server.url}/v2/apps/crashy").json()["app"]["tasksRunning"] == 1,
        timeout=20,
        message="the fixed version running",
    )
    assert time.monotonic() - started < 5, "a new version is not held back by the old delay"
    wait_for(lambda: not httpx.get(f"{server.url}/v2/queue").json()["queue"], message="queue empty")


def _gaps(timestamps: list[str]) -> list[float]:
    from datetime import datetime

    moments = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in timestamps]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
