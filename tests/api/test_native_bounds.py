"""The native API bounds the numbers a request names: build numbers, log offsets and a
pipeline's settings beyond reason are a 422 naming them, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conveyor.domain import limits

TOO_BIG = 2**63


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/pipelines/p/builds/{TOO_BIG}", None),
        ("GET", f"/api/pipelines/p/builds?before={TOO_BIG}", None),
        ("GET", f"/api/pipelines/p/builds/{TOO_BIG}/steps/1/output", None),
        ("POST", f"/api/pipelines/p/builds/{TOO_BIG}/kill", {}),
        ("POST", f"/api/pipelines/p/builds/{TOO_BIG}/retrigger", {"step": "1"}),
        ("POST", f"/api/pipelines/p/builds/{TOO_BIG}/steps/1/kill", {}),
        ("POST", f"/api/pipelines/p/builds/{TOO_BIG}/steps/1/release", {"by": "a"}),
        ("POST", f"/api/pipelines/p/builds/{TOO_BIG}/reports", {"reports": []}),
        ("GET", f"/api/tasks/web.1/logs?offset={TOO_BIG}", None),
    ],
)
def test_a_number_beyond_the_store_is_refused_not_a_server_error(
    api: httpx.Client, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == 422, response.text


def pipeline(**settings: object) -> dict[str, object]:
    return {"name": "p", "repository": "https://git.example.invalid/p.git", **settings}


@pytest.mark.parametrize(
    ("settings", "path", "maximum"),
    [
        ({"pollSeconds": TOO_BIG}, "/pollSeconds", limits.MAX_POLL_SECONDS),
        ({"maxConcurrentBuilds": 1000}, "/maxConcurrentBuilds", limits.MAX_CONCURRENT_BUILDS),
        (
            {"buildTimeoutSeconds": 10**9},
            "/buildTimeoutSeconds",
            limits.MAX_BUILD_TIMEOUT_SECONDS,
        ),
        ({"retention": {"keepDays": 10**6}}, "/retention/keepDays", limits.MAX_KEEP_DAYS),
        ({"retention": {"keepBuilds": 10**9}}, "/retention/keepBuilds", limits.MAX_KEEP_BUILDS),
    ],
)
def test_a_pipeline_setting_beyond_reason_is_refused(
    api: httpx.Client, settings: dict[str, object], path: str, maximum: int
) -> None:
    response = api.post("/api/pipelines", json=pipeline(**settings))
    assert response.status_code == 422, response.text
    [detail] = response.json()["details"]
    assert detail["path"] == path
    assert detail["errors"][0].endswith(f"expected between 1 and {maximum}")
    assert api.get("/api/pipelines").json() == []


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"branch": "ma\u0000in"}, "/branch"),
        ({"repository": "https://git.example.invalid/\u0000"}, "/repository"),
        ({"file": "x" * (limits.MAX_PIPELINE_TEXT + 1)}, "/file"),
    ],
)
def test_pipeline_text_no_process_can_take_is_refused(
    api: httpx.Client, settings: dict[str, object], path: str
) -> None:
    response = api.post("/api/pipelines", json=pipeline(**settings))
    assert response.status_code == 422, response.text
    assert path in [detail["path"] for detail in response.json()["details"]]
