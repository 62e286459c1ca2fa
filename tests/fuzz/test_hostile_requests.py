"""Each hostile request of issue 9 gets its own 4xx from a real server, stores nothing, and leaves
the server answering `/ping` within a second (the original bug: a 2,000-segment app id kept the
server busy for an hour). The contract is docs/marathon-api.md's "Limits"; the figures come from
`conveyor.domain.limits`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conveyor.domain.limits import (
    MAX_APPS_PER_REQUEST,
    MAX_ARGS,
    MAX_CMD_BYTES,
    MAX_CONSTRAINTS,
    MAX_DEPENDENCIES,
    MAX_ENV_NAME_LENGTH,
    MAX_ENV_TOTAL_BYTES,
    MAX_ENV_VALUE_BYTES,
    MAX_ENV_VARIABLES,
    MAX_GROUP_DEPTH,
    MAX_HEALTH_CHECKS,
    MAX_ID_LENGTH,
    MAX_ID_SEGMENT_LENGTH,
    MAX_ID_SEGMENTS,
    MAX_INSTANCES,
    MAX_JSON_DEPTH,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_BYTES,
    MAX_LABELS,
    MAX_PORTS,
    MAX_REQUEST_BYTES,
    MAX_TASK_IDS,
    MAX_URIS,
)
from tests.fuzz.referee import Referee
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

APP = {"id": "/fuzz/hostile", "cmd": "sleep 600", "instances": 0, "cpus": 0.1, "mem": 16}
"""A valid definition: every hostile request below differs from it in one way."""

DEEP = 50_000


def app_with(**fields: Any) -> bytes:
    return json.dumps({**APP, **fields}).encode()


def error_paths(response: httpx.Response) -> set[str]:
    return {detail["path"] for detail in response.json().get("details", [])}


def assert_refused(response: httpx.Response, status: int, *, path: str | None = None) -> None:
    """The status, and a Marathon-shaped JSON body (naming `path` when given)."""
    assert response.status_code == status, response.text[:2000]
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    if path is not None:
        assert path in error_paths(response), body


# --- the edge: media type, origin, size ---------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
def test_a_body_that_is_not_declared_json_is_a_415_and_creates_nothing(
    referee: Referee, content_type: str
) -> None:
    response = referee.send(
        "POST", "/v2/apps", content=app_with(), headers={"content-type": content_type}
    )
    assert_refused(response, 415)
    assert referee.client.get("/v2/apps/fuzz/hostile").status_code == 404


def test_a_body_without_content_type_is_a_415(referee: Referee) -> None:
    request = referee.client.build_request("POST", "/v2/apps", content=app_with())
    assert "content-type" not in request.headers
    response = referee.client.send(request)
    referee.judge(response)
    assert_refused(response, 415)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.conveyor+json"]
)
def test_json_media_types_with_parameters_or_suffix_are_accepted(
    referee: Referee, content_type: str
) -> None:
    response = referee.send(
        "POST", "/v2/apps", content=app_with(), headers={"content-type": content_type}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1.evil.example", "sec-fetch-site": "same-site"},
        {"origin": "null"},
    ],
    ids=["origin", "origin-and-fetch-site", "fetch-site", "same-site", "opaque-origin"],
)
def test_a_cross_site_change_is_a_403_and_creates_nothing(
    referee: Referee, headers: dict[str, str]
) -> None:
    response = referee.send("POST", "/v2/apps", content=app_with(), headers=headers)
    assert_refused(response, 403)
    assert referee.client.get("/v2/apps/fuzz/hostile").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v2/apps/fuzz/seed/web", {"instances": 1}),
        ("DELETE", "/v2/apps/fuzz/seed/web", None),
        ("POST", "/v2/groups", {"id": "/evil"}),
        ("DELETE", "/v2/groups/fuzz", None),
        ("POST", "/api/pipelines", {"name": "evil", "repository": "/srv/evil.git"}),
        ("DELETE", "/api/pipelines/fuzz-seed", None),
        ("POST", "/v2/apps/fuzz/seed/web/restart", None),
    ],
)
def test_every_kind_of_change_from_another_site_is_refused(
    referee: Referee, method: str, path: str, body: dict[str, Any] | None
) -> None:
    content = None if body is None else json.dumps(body).encode()
    headers = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    response = referee.send(method, path, content=content, headers=headers)
    assert_refused(response, 403)


def test_a_change_from_the_servers_own_page_is_accepted(referee: Referee) -> None:
    own = {"origin": referee.server.url, "sec-fetch-site": "same-origin"}
    response = referee.send("POST", "/v2/apps", content=app_with(), headers=own)
    assert response.status_code == 201, response.text


def test_reading_from_another_site_is_not_refused_and_gets_no_cors_headers(
    referee: Referee,
) -> None:
    response = referee.send("GET", "/v2/apps", headers={"origin": "http://evil.example"})
    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control")]


def test_an_allowed_origin_may_change_state(server_factory: type[ServerProcess]) -> None:
    server = server_factory(extra_args=("--allow-origin", "https://ci.example.org")).start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        allowed = client.post(
            "/v2/apps",
            json=APP,
            headers={"origin": "https://ci.example.org", "sec-fetch-site": "cross-site"},
        )
        assert allowed.status_code == 201, allowed.text
        other = client.post(
            "/v2/apps", json={**APP, "id": "/fuzz/other"}, headers={"origin": "https://x.example"}
        )
        assert_refused(other, 403)
        assert client.get("/v2/apps/fuzz/other").status_code == 404


def _megabytes(size: int) -> str:
    return "x" * size


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(lambda: {**APP, "env": {"BIG": _megabytes(25 << 20)}}, id="25MB-env"),
        pytest.param(lambda: {**APP, "labels": {"big": _megabytes(60 << 20)}}, id="60MB-label"),
    ],
)
def test_a_body_over_the_request_limit_is_a_413(
    referee: Referee, document: Callable[[], dict[str, Any]]
) -> None:
    response = referee.send("POST", "/v2/apps", content=json.dumps(document()).encode())
    assert_refused(response, 413)


def test_a_streamed_body_over_the_request_limit_is_a_413(referee: Referee) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"id": "/fuzz/hostile", "cmd": "sleep 600", "instances": 0, "labels": {"a": "'
        for _ in range((MAX_REQUEST_BYTES >> 16) + 2):
            yield b"x" * (1 << 16)
        yield b'"}}'

    request = referee.client.build_request(
        "POST", "/v2/apps", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in request.headers
    response = referee.client.send(request)
    referee.judge(response)
    assert_refused(response, 413)


# --- JSON text: nesting, duplicate keys, lone surrogates ----------------------------------


def nested(kind: str, depth: int) -> bytes:
    """A JSON document of `depth` arrays or objects, each inside the last."""
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


BODY_ROUTES = [
    ("POST", "/v2/apps"),
    ("POST", "/v2/groups"),
    ("PUT", "/v2/apps/fuzz/seed/web"),
    ("POST", "/v2/tasks/delete"),
    ("POST", "/hooks/git"),
    ("POST", "/api/pipelines"),
]


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_json_nested_50000_deep_is_a_400_and_the_server_keeps_answering(
    referee: Referee, method: str, path: str, kind: str
) -> None:
    response = referee.send(method, path, content=nested(kind, DEEP))
    assert_refused(response, 400)
    assert "nesting" in response.text


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_json_one_level_deeper_than_the_limit_is_a_400(
    referee: Referee, method: str, path: str
) -> None:
    response = referee.send(method, path, content=nested("object", MAX_JSON_DEPTH + 1))
    assert_refused(response, 400)
    assert "nesting" in response.text


def test_json_nested_as_deep_as_the_limit_is_read(referee: Referee) -> None:
    """An unknown field holding objects up to the limit: the parser lets it through (what the
    app definition makes of it is another matter)."""
    inner = nested("object", MAX_JSON_DEPTH - 1).decode()
    response = referee.send(
        "POST", "/v2/apps", content=f'{{"id": "/fuzz/hostile", "passthrough": {inner}}}'.encode()
    )
    assert "nesting" not in response.text, response.text


def test_a_key_given_twice_is_a_400_naming_it(referee: Referee) -> None:
    raw = b'{"id": "/fuzz/hostile", "cmd": "sleep 600", "instances": 0, "cmd": "rm -rf ~"}'
    response = referee.send("POST", "/v2/apps", content=raw)
    assert_refused(response, 400)
    assert "cmd" in response.text


def test_a_key_given_twice_deep_inside_is_a_400(referee: Referee) -> None:
    raw = b'{"id": "/fuzz/hostile", "cmd": "sleep 600", "env": {"A": "1", "A": "2"}}'
    response = referee.send("POST", "/v2/apps", content=raw)
    assert_refused(response, 400)
    assert '"A"' in response.text or "'A'" in response.text or "/env/A" in response.text


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (rb'{"id": "/fuzz/hostile", "cmd": "echo \ud800", "instances": 0}', "/cmd"),
        (rb'{"id": "/fuzz/hostile", "cmd": "sleep 1", "env": {"A": "\udfff"}}', "/env/A"),
        (rb'{"id": "/fuzz/hostile", "cmd": "sleep 1", "env": {"\ud800": "x"}}', None),
        (rb'{"id": "/fuzz/hostile", "cmd": "sleep 1", "labels": {"k": "a\ud83db"}}', "/labels/k"),
        (rb'{"id": "/fuzz/hostile", "cmd": "sleep 1", "args": ["\udc80"]}', "/args(0)"),
    ],
    ids=["cmd", "env-value", "env-name", "label-value", "args"],
)
def test_a_lone_surrogate_is_a_422_naming_where(
    referee: Referee, raw: bytes, path: str | None
) -> None:
    response = referee.send("POST", "/v2/apps", content=raw)
    assert_refused(response, 422, path=path)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/pipelines"), ("POST", "/hooks/git"), ("POST", "/v2/groups")],
)
def test_a_lone_surrogate_is_refused_on_every_route(
    referee: Referee, method: str, path: str
) -> None:
    raw = rb'{"id": "/fuzz/s", "name": "s\ud800", "repository": "/r\ud800", "ref": "x"}'
    response = referee.send(method, path, content=raw)
    assert response.status_code in (400, 422), response.text


# --- app definitions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    name: str
    document: dict[str, Any]
    status: int
    path: str | None


def deep_id(segments: int) -> str:
    return "/fuzz/" + "/".join(f"s{i}" for i in range(segments))


HOSTILE_APPS = [
    Hostile("2000-segments", {**APP, "id": deep_id(2000)}, 422, "/id"),
    Hostile("one-segment-too-many", {**APP, "id": deep_id(MAX_ID_SEGMENTS)}, 422, "/id"),
    Hostile("5000-char-segment", {**APP, "id": "/fuzz/" + "a" * 5000}, 422, "/id"),
    Hostile(
        "segment-one-too-long", {**APP, "id": "/" + "a" * (MAX_ID_SEGMENT_LENGTH + 1)}, 422, "/id"
    ),
    Hostile(
        "id-one-too-long",
        {**APP, "id": "/" + "/".join(["a" * 50] * (MAX_ID_LENGTH // 51 + 1))},
        422,
        "/id",
    ),
    Hostile("unicode-id", {**APP, "id": "/fuzz/café"}, 422, "/id"),
    Hostile("cjk-id", {**APP, "id": "/fuzz/应用"}, 422, "/id"),
    Hostile("fullwidth-id", {**APP, "id": "/fuzz/ａｐｐ"}, 422, "/id"),
    Hostile("zero-width-id", {**APP, "id": "/fuzz/app\u200b"}, 422, "/id"),
    Hostile("nul-in-id", {**APP, "id": "/fuzz/app\u0000"}, 422, "/id"),
    Hostile("nul-in-cmd", {**APP, "cmd": "sleep 600\u0000; rm -rf ~"}, 422, "/cmd"),
    Hostile("nul-in-args", {**APP, "cmd": None, "args": ["sleep", "6\u00000"]}, 422, "/args(1)"),
    Hostile("nul-in-env-value", {**APP, "env": {"A": "x\u0000y"}}, 422, "/env/A"),
    Hostile("nul-in-env-name", {**APP, "env": {"A\u0000B": "x"}}, 422, None),
    Hostile("nul-in-label-value", {**APP, "labels": {"k": "\u0000"}}, 422, "/labels/k"),
    Hostile("nul-in-label-key", {**APP, "labels": {"k\u0000": "v"}}, 422, None),
    Hostile("nul-in-user", {**APP, "user": "root\u0000"}, 422, "/user"),
    Hostile(
        "nul-in-health-check-path",
        {**APP, "healthChecks": [{"protocol": "HTTP", "path": "/\u0000"}]},
        422,
        "/healthChecks(0)/path",
    ),
    Hostile("equals-in-env-name", {**APP, "env": {"A=B": "x"}}, 422, "/env/A=B"),
    Hostile("empty-env-name", {**APP, "env": {"": "x"}}, 422, None),
    Hostile("env-name-too-long", {**APP, "env": {"A" * (MAX_ENV_NAME_LENGTH + 1): "x"}}, 422, None),
    Hostile(
        "env-value-too-long",
        {**APP, "env": {"BIG": "x" * (MAX_ENV_VALUE_BYTES + 1)}},
        422,
        "/env/BIG",
    ),
    Hostile(
        "env-too-many",
        {**APP, "env": {f"V{i}": "x" for i in range(MAX_ENV_VARIABLES + 1)}},
        422,
        "/env",
    ),
    Hostile(
        "env-too-big",
        {
            **APP,
            "env": {
                f"V{i}": "x" * (MAX_ENV_VALUE_BYTES - 16)
                for i in range(MAX_ENV_TOTAL_BYTES // MAX_ENV_VALUE_BYTES + 1)
            },
        },
        422,
        "/env",
    ),
    Hostile(
        "label-value-too-long",
        {**APP, "labels": {"big": "x" * (MAX_LABEL_VALUE_BYTES + 1)}},
        422,
        "/labels/big",
    ),
    Hostile(
        "label-key-too-long", {**APP, "labels": {"k" * (MAX_LABEL_KEY_LENGTH + 1): "v"}}, 422, None
    ),
    Hostile(
        "labels-too-many",
        {**APP, "labels": {f"l{i}": "v" for i in range(MAX_LABELS + 1)}},
        422,
        "/labels",
    ),
    Hostile("cmd-too-long", {**APP, "cmd": "x" * (MAX_CMD_BYTES + 1)}, 422, "/cmd"),
    Hostile("args-too-many", {**APP, "cmd": None, "args": ["a"] * (MAX_ARGS + 1)}, 422, "/args"),
    Hostile("instances-1e30", {**APP, "instances": 1e30}, 422, "/instances"),
    Hostile("instances-2**31", {**APP, "instances": 2**31}, 422, "/instances"),
    Hostile("instances-10**100", {**APP, "instances": 10**100}, 422, "/instances"),
    Hostile("instances-one-too-many", {**APP, "instances": MAX_INSTANCES + 1}, 422, "/instances"),
    Hostile(
        "health-checks-too-many",
        {**APP, "healthChecks": [{"protocol": "TCP"}] * (MAX_HEALTH_CHECKS + 1)},
        422,
        "/healthChecks",
    ),
    Hostile(
        "constraints-too-many",
        {**APP, "constraints": [["hostname", "UNIQUE"]] * (MAX_CONSTRAINTS + 1)},
        422,
        "/constraints",
    ),
    Hostile(
        "port-definitions-too-many",
        {**APP, "portDefinitions": [{"port": 0}] * (MAX_PORTS + 1)},
        422,
        "/portDefinitions",
    ),
    Hostile("ports-too-many", {**APP, "ports": [0] * (MAX_PORTS + 1)}, 422, "/ports"),
    Hostile(
        "dependencies-too-many",
        {**APP, "dependencies": [f"/fuzz/d{i}" for i in range(MAX_DEPENDENCIES + 1)]},
        422,
        "/dependencies",
    ),
    Hostile("uris-too-many", {**APP, "uris": ["file:///x"] * (MAX_URIS + 1)}, 422, "/uris"),
    Hostile(
        "fetch-too-many", {**APP, "fetch": [{"uri": "file:///x"}] * (MAX_URIS + 1)}, 422, "/fetch"
    ),
]


@pytest.mark.parametrize("hostile", HOSTILE_APPS, ids=[h.name for h in HOSTILE_APPS])
def test_a_hostile_app_definition_gets_its_own_4xx_and_stores_nothing(
    referee: Referee, hostile: Hostile
) -> None:
    response = referee.send("POST", "/v2/apps", content=json.dumps(hostile.document).encode())
    assert_refused(response, hostile.status, path=hostile.path)
    assert referee.client.get("/v2/apps/fuzz/hostile").status_code == 404


@pytest.mark.parametrize(
    "hostile",
    [h for h in HOSTILE_APPS if h.path != "/id"],
    ids=[h.name for h in HOSTILE_APPS if h.path != "/id"],
)
def test_a_hostile_change_of_an_app_gets_its_own_4xx(referee: Referee, hostile: Hostile) -> None:
    document = {k: v for k, v in hostile.document.items() if k != "id"}
    response = referee.send(
        "PUT", "/v2/apps/fuzz/seed/web?force=true", content=json.dumps(document).encode()
    )
    assert_refused(response, hostile.status, path=hostile.path)


def test_an_app_2000_segments_deep_named_by_the_url_is_refused(referee: Referee) -> None:
    path = "/v2/apps" + deep_id(2000)
    response = referee.send("PUT", path, content=json.dumps({"cmd": "sleep 600"}).encode())
    assert_refused(response, 422, path="/id")
    assert referee.send("GET", path).status_code == 404
    assert referee.send("DELETE", path).status_code == 404


def test_hostile_apps_inside_a_group_are_refused_naming_the_app(referee: Referee) -> None:
    group = {"id": "/fuzz/hg", "apps": [{**APP, "id": "/fuzz/hg/" + "a" * 5000}]}
    response = referee.send("POST", "/v2/groups", content=json.dumps(group).encode())
    assert_refused(response, 422, path="/apps(0)/id")


def test_hostile_apps_in_a_put_array_are_refused(referee: Referee) -> None:
    apps = [{**APP, "instances": 1e30}]
    response = referee.send("PUT", "/v2/apps", content=json.dumps(apps).encode())
    assert response.status_code == 422, response.text


def test_a_put_array_of_too_many_apps_is_a_422(referee: Referee) -> None:
    apps = [{**APP, "id": f"/fuzz/many/a{i}"} for i in range(MAX_APPS_PER_REQUEST + 1)]
    response = referee.send("PUT", "/v2/apps", content=json.dumps(apps).encode())
    assert_refused(response, 422)


def test_a_group_of_too_many_apps_is_a_422(referee: Referee) -> None:
    apps = [{**APP, "id": f"a{i}"} for i in range(MAX_APPS_PER_REQUEST + 1)]
    group = {"id": "/fuzz/many", "apps": apps}
    response = referee.send("POST", "/v2/groups", content=json.dumps(group).encode())
    assert_refused(response, 422)


def test_groups_nested_deeper_than_the_limit_are_refused(referee: Referee) -> None:
    """Each level of groups is two levels of JSON (the `groups` array and the group), so the
    JSON depth bound (400) already refuses a tree deeper than `MAX_GROUP_DEPTH`."""
    group: dict[str, Any] = {"id": "g", "apps": [{**APP, "id": "leaf"}]}
    for _ in range(MAX_GROUP_DEPTH):
        group = {"id": "g", "groups": [group]}
    response = referee.send(
        "POST", "/v2/groups", content=json.dumps({**group, "id": "/fuzz/deep"}).encode()
    )
    assert response.status_code in (400, 422), response.text
    assert referee.client.get("/v2/groups/fuzz/deep").status_code == 404


def test_a_group_id_2000_segments_deep_is_refused(referee: Referee) -> None:
    response = referee.send(
        "POST", "/v2/groups", content=json.dumps({"id": deep_id(2000)}).encode()
    )
    assert_refused(response, 422, path="/id")


def test_too_many_task_ids_to_delete_is_a_422(referee: Referee) -> None:
    ids = [f"fuzz_seed_web.{i}" for i in range(MAX_TASK_IDS + 1)]
    response = referee.send("POST", "/v2/tasks/delete", content=json.dumps({"ids": ids}).encode())
    assert_refused(response, 422, path="/ids")


def test_the_server_answers_ping_after_every_hostile_request_in_turn(referee: Referee) -> None:
    """All of the above, one after the other, on one server."""
    for hostile in HOSTILE_APPS:
        response = referee.send("POST", "/v2/apps", content=json.dumps(hostile.document).encode())
        assert response.status_code == hostile.status, (hostile.name, response.text)
    for method, path in BODY_ROUTES:
        for kind in ("array", "object"):
            assert referee.send(method, path, content=nested(kind, DEEP)).status_code == 400
    big = json.dumps({**APP, "env": {"BIG": _megabytes(25 << 20)}}).encode()
    assert referee.send("POST", "/v2/apps", content=big).status_code == 413
    assert referee.send("GET", "/v2/apps" + deep_id(2000)).status_code == 404
    referee.answers_ping(after="every hostile request")
