"""What reaches a handler at all: only JSON, only from this server's origin (or an allowed one),
only within the size and nesting limits. Each refusal stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from conveyor.api.admission import AdmissionPolicy
from conveyor.domain.limits import MAX_JSON_DEPTH
from conveyor.store.sql import SqlStore
from tests.api.conftest import serving

APP = json.dumps({"id": "/web", "cmd": "sleep 600", "instances": 0})
JSON = {"Content-Type": "application/json"}


def stored_apps(api: httpx.Client) -> list[object]:
    apps: list[object] = api.get("/v2/apps").json()["apps"]
    return apps


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
def test_a_body_of_another_media_type_is_refused_and_nothing_is_stored(
    api: httpx.Client, content_type: str
) -> None:
    response = api.post("/v2/apps", content=APP, headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert "application/json" in response.json()["message"]
    assert stored_apps(api) == []


def test_a_body_without_a_content_type_is_refused(api: httpx.Client) -> None:
    response = api.post("/v2/apps", content=APP, headers={"Content-Type": ""})
    assert response.status_code == 415
    assert stored_apps(api) == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/vnd+json"]
)
def test_json_in_any_of_its_spellings_is_accepted(api: httpx.Client, content_type: str) -> None:
    response = api.post("/v2/apps", content=APP, headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text


def test_a_change_without_a_body_needs_no_content_type(api: httpx.Client) -> None:
    assert api.post("/v2/apps", content=APP, headers=JSON).status_code == 201
    response = api.post("/v2/apps/web/restart", params={"force": "true"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_change_from_another_origin_is_refused(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    response = api.post("/v2/apps", content=APP, headers={**JSON, **headers})
    assert response.status_code == 403
    assert "Cross-origin" in response.json()["message"]
    assert "access-control-allow-origin" not in response.headers
    assert stored_apps(api) == []


def test_a_delete_from_another_origin_is_refused(api: httpx.Client) -> None:
    assert api.post("/v2/apps", content=APP, headers=JSON).status_code == 201
    response = api.delete("/v2/apps/web", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert len(stored_apps(api)) == 1


def test_a_change_from_the_servers_own_page_is_accepted(api: httpx.Client) -> None:
    own = str(api.base_url).rstrip("/")
    headers = {**JSON, "Origin": own, "Sec-Fetch-Site": "same-origin"}
    assert api.post("/v2/apps", content=APP, headers=headers).status_code == 201


def test_reads_from_another_origin_are_answered_without_cors_headers(api: httpx.Client) -> None:
    response = api.get("/v2/apps", headers={"Origin": "http://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def strict_api(store: SqlStore) -> Iterator[httpx.Client]:
    policy = AdmissionPolicy.of(
        max_request_bytes=2048,
        allowed_origins=["https://CI.example.org/", " "],
        listen_host="127.0.0.1",
    )
    with serving(store, policy) as client:
        yield client


def test_an_allowed_origin_may_change_state(strict_api: httpx.Client) -> None:
    headers = {**JSON, "Origin": "https://ci.example.org", "Sec-Fetch-Site": "cross-site"}
    assert strict_api.post("/v2/apps", content=APP, headers=headers).status_code == 201


def test_a_body_over_the_limit_is_refused_by_its_length(strict_api: httpx.Client) -> None:
    body = json.dumps({"id": "/web", "cmd": "x" * 4000})
    response = strict_api.post("/v2/apps", content=body, headers=JSON)
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["message"]
    assert stored_apps(strict_api) == []


def test_a_chunked_body_over_the_limit_is_refused(strict_api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"id": "/web", "cmd": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = strict_api.post("/v2/apps", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert stored_apps(strict_api) == []


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("method", "path", "wrap"),
    [
        ("POST", "/v2/apps", '{{"id": "/web", "cmd": "x", "labels": {}}}'),
        ("PUT", "/v2/apps/web", '{{"container": {}}}'),
        ("PUT", "/v2/apps", "{}"),
        ("POST", "/v2/groups", '{{"id": "/g", "apps": {}}}'),
        ("POST", "/v2/tasks/delete", '{{"ids": {}}}'),
        ("POST", "/hooks/git", '{{"ref": {}}}'),
        ("POST", "/api/pipelines", '{{"name": "p", "repository": {}}}'),
    ],
)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 50_000])
def test_json_nested_too_deeply_is_refused_everywhere(
    api: httpx.Client, method: str, path: str, wrap: str, depth: int
) -> None:
    body = wrap.format(nested(depth))
    response = api.request(method, path, content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["details"][0]["errors"] == [
        f"JSON nesting deeper than {MAX_JSON_DEPTH} levels is not allowed"
    ]
    assert stored_apps(api) == []
    assert api.get("/ping").status_code == 200


def test_a_repeated_key_is_refused(api: httpx.Client) -> None:
    body = '{"id": "/web", "cmd": "sleep 1", "cmd": "rm -rf ~"}'
    response = api.post("/v2/apps", content=body, headers=JSON)
    assert response.status_code == 400
    assert "duplicate key 'cmd'" in response.json()["details"][0]["errors"][0]
    assert stored_apps(api) == []


def test_a_lone_surrogate_is_refused_at_its_path(api: httpx.Client) -> None:
    body = '{"id": "/web", "cmd": "x", "healthChecks": [{"path": "/\\ud800"}]}'
    response = api.post("/v2/apps", content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["details"][0]["path"] == "/healthChecks(0)/path"
    assert stored_apps(api) == []


def test_a_github_form_encoded_push_is_read_not_refused(api: httpx.Client) -> None:
    response = api.post(
        "/hooks/git",
        content="payload=%7B%22zen%22%3A%22hi%22%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "ping"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["ignored"] == "ping"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "10.0.0.1", "[fe80::1]:80"])
def test_a_loopback_server_refuses_requests_addressed_to_another_name(
    strict_api: httpx.Client, host: str
) -> None:
    response = strict_api.get("/v2/apps", headers={"Host": host})
    assert response.status_code == 403
    assert "DNS rebinding" in response.json()["message"]
    changed = strict_api.post("/v2/apps", content=APP, headers={**JSON, "Host": host})
    assert changed.status_code == 403
    assert stored_apps(strict_api) == []


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1", "127.1.2.3:1", "[::1]:8080"])
def test_a_loopback_server_answers_its_loopback_names(strict_api: httpx.Client, host: str) -> None:
    assert strict_api.get("/v2/apps", headers={"Host": host}).status_code == 200


def test_a_server_on_all_interfaces_answers_any_name(api: httpx.Client) -> None:
    assert api.get("/v2/apps", headers={"Host": "conveyor.example.org"}).status_code == 200
