"""`/v2/groups` and `/v2/tasks/delete` refuse what is out of bounds, naming the field, and store
nothing of it; a deep tree of groups renders the same as before, walking each group once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conveyor.domain.limits import (
    MAX_APPS_PER_REQUEST,
    MAX_DEPENDENCIES,
    MAX_ID_SEGMENTS,
    MAX_INSTANCES,
    MAX_TASK_IDS,
)


def details(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    return [(d["path"], error) for d in body["details"] for error in d["errors"]]


def stored_groups(api: httpx.Client) -> dict[str, Any]:
    root: dict[str, Any] = api.get("/v2/groups").json()
    return root


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"id": "/Prod"}, "/id"),
        ({"id": "/a" * (MAX_ID_SEGMENTS + 1)}, "/id"),
        ({"id": "/prod", "groups": [{"id": "Ünï"}]}, "/groups(0)/id"),
        ({"id": "/prod", "groups": [{"id": "x" * 100}]}, "/groups(0)/id"),
        ({"id": "/prod", "dependencies": ["/Nope"]}, "/dependencies(0)"),
        ({"id": "/prod", "dependencies": [{"id": "/db"}]}, "/dependencies(0)"),
        ({"id": "/prod", "dependencies": ["/db"] * (MAX_DEPENDENCIES + 1)}, "/dependencies"),
        (
            {"id": "/prod", "groups": [{"id": "web", "dependencies": [7]}]},
            "/groups(0)/dependencies(0)",
        ),
    ],
)
def test_a_group_with_a_bad_id_or_dependency_is_refused(
    api: httpx.Client, body: dict[str, Any], path: str
) -> None:
    before = stored_groups(api)
    response = api.post("/v2/groups", json=body)
    assert path in [where for where, _ in details(response)]
    assert stored_groups(api) == before


def test_a_put_to_an_invalid_group_path_is_refused(api: httpx.Client) -> None:
    response = api.put("/v2/groups/Not_Valid", json={"apps": []})
    assert [where for where, _ in details(response)] == ["/id"]


def test_too_many_apps_in_one_group_body_are_refused(api: httpx.Client) -> None:
    apps = [{"id": f"app{index}", "cmd": "sleep 600"} for index in range(MAX_APPS_PER_REQUEST)]
    body = {"id": "/big", "apps": apps[:2], "groups": [{"id": "inner", "apps": apps}]}
    response = api.post("/v2/groups", json=body)
    assert details(response) == [
        ("/groups(0)/apps", f"a group may hold at most {MAX_APPS_PER_REQUEST} apps in all")
    ]
    assert api.get("/v2/apps").json()["apps"] == []


def test_too_many_apps_in_one_put_are_refused(api: httpx.Client) -> None:
    apps = [{"id": f"/app{index}", "cmd": "sleep 600"} for index in range(MAX_APPS_PER_REQUEST + 1)]
    assert details(api.put("/v2/apps", json=apps))[0][0] == "/"
    assert api.get("/v2/apps").json()["apps"] == []


@pytest.mark.parametrize("factor", [-1, "2", 1e300])
def test_a_scale_beyond_reason_is_refused(api: httpx.Client, factor: object) -> None:
    app = {"id": "web", "cmd": "sleep 600", "instances": 2}
    assert api.post("/v2/groups", json={"id": "/shop", "apps": [app]}).status_code == 201
    response = api.put("/v2/groups/shop", json={"scaleBy": factor}, params={"force": "true"})
    assert [where for where, _ in details(response)] == ["/scaleBy"]
    assert api.get("/v2/apps/shop/web").json()["app"]["instances"] == 2


def test_a_scale_within_the_limit_is_applied(api: httpx.Client) -> None:
    app = {"id": "web", "cmd": "sleep 600", "instances": 2}
    assert api.post("/v2/groups", json={"id": "/shop", "apps": [app]}).status_code == 201
    response = api.put("/v2/groups/shop", json={"scaleBy": 1.5}, params={"force": "true"})
    assert response.status_code == 200, response.text
    assert api.get("/v2/apps/shop/web").json()["app"]["instances"] == 3
    too_far = {"scaleBy": MAX_INSTANCES}
    assert api.put("/v2/groups/shop", json=too_far, params={"force": "true"}).status_code == 422


def test_too_many_task_ids_are_refused(api: httpx.Client) -> None:
    ids = [f"web.{index}" for index in range(MAX_TASK_IDS + 1)]
    response = api.post("/v2/tasks/delete", json={"ids": ids})
    assert details(response) == [("/ids", f"must have at most {MAX_TASK_IDS} entries")]


def test_a_deep_tree_renders_every_group_once_with_its_newest_version(api: httpx.Client) -> None:
    chain = "/".join(f"g{level}" for level in range(MAX_ID_SEGMENTS - 1))
    for name in ("a", "b"):
        body = {"id": f"/{chain}/{name}", "cmd": "sleep 600", "instances": 0}
        assert api.post("/v2/apps", json=body).status_code == 201
    root = stored_groups(api)
    group, depth = root, 0
    while group["groups"]:
        [group] = group["groups"]
        depth += 1
    assert depth == MAX_ID_SEGMENTS - 1
    assert [app["id"] for app in group["apps"]] == [f"/{chain}/a", f"/{chain}/b"]
    newest = max(app["version"] for app in group["apps"])
    assert root["version"] == group["version"] == newest
