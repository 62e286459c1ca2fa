"""Group dependencies through `/v2/groups`: nested groups keep theirs, the deployment orders
every app under a group after the apps it depends on, a scale keeps them, and a PUT that
replaces the tree drops the groups it leaves out. The API runs on a real store without
controllers, so a deployment stays as it was planned."""

from __future__ import annotations

from typing import Any

import httpx

PRODUCT = {
    "id": "/product",
    "groups": [
        {
            "id": "/product/database",
            "apps": [{"id": "mongo", "cmd": "sleep 1000"}, {"id": "mysql", "cmd": "sleep 1000"}],
        },
        {
            "id": "/product/service",
            "dependencies": ["/product/database"],
            "groups": [{"id": "play", "apps": [{"id": "api", "cmd": "sleep 1000"}]}],
            "apps": [{"id": "rails", "cmd": "sleep 1000"}],
        },
    ],
}


def _plan(api: httpx.Client, deployment_id: str) -> list[list[tuple[str, str]]]:
    deployments: list[dict[str, Any]] = api.get("/v2/deployments").json()
    [deployment] = [d for d in deployments if d["id"] == deployment_id]
    return [
        [(action["action"], action["app"]) for action in step["actions"]]
        for step in deployment["steps"]
    ]


def test_a_nested_groups_dependencies_order_the_deployment(api: httpx.Client) -> None:
    response = api.post("/v2/groups", json=PRODUCT)
    assert response.status_code == 201, response.text

    plan = _plan(api, response.json()["deploymentId"])

    assert plan[1:] == [
        [
            ("ScaleApplication", "/product/database/mongo"),
            ("ScaleApplication", "/product/database/mysql"),
        ],
        [
            ("ScaleApplication", "/product/service/play/api"),
            ("ScaleApplication", "/product/service/rails"),
        ],
    ]
    service = api.get("/v2/groups/product/service").json()
    assert service["dependencies"] == ["/product/database"]


def test_a_scale_keeps_the_groups_dependencies(api: httpx.Client) -> None:
    api.post("/v2/groups", json=PRODUCT).raise_for_status()

    response = api.put("/v2/groups/product/service", json={"scaleBy": 2}, params={"force": "true"})
    assert response.status_code == 200, response.text

    assert api.get("/v2/groups/product/service").json()["dependencies"] == ["/product/database"]


def test_a_put_that_replaces_the_tree_drops_the_groups_it_leaves_out(api: httpx.Client) -> None:
    api.post("/v2/groups", json=PRODUCT).raise_for_status()
    flat = {"id": "/product", "apps": [{"id": "solo", "cmd": "sleep 1000"}]}

    response = api.put("/v2/groups/product", json=flat, params={"force": "true"})
    assert response.status_code == 200, response.text

    groups = api.get("/v2/groups/product").json()["groups"]
    assert groups == []
    plan = _plan(api, response.json()["deploymentId"])
    assert ("StartApplication", "/product/solo") in plan[-2]


def test_a_cycle_through_groups_is_refused_and_nothing_is_stored(api: httpx.Client) -> None:
    cyclic = {
        "id": "/loop",
        "groups": [
            {"id": "a", "dependencies": ["/loop/b"], "apps": [{"id": "x", "cmd": "sleep 1"}]},
            {"id": "b", "dependencies": ["/loop/a"], "apps": [{"id": "y", "cmd": "sleep 1"}]},
        ],
    }

    response = api.post("/v2/groups", json=cyclic)

    assert response.status_code == 422, response.text
    assert "cyclic" in response.text
    assert api.get("/v2/groups/loop").status_code == 404
    assert api.get("/v2/apps").json()["apps"] == []


def test_a_group_without_apps_is_listed_with_its_own_version(api: httpx.Client) -> None:
    created = api.put("/v2/groups/waiting", json={"dependencies": ["/product"]})
    assert created.status_code == 200, created.text

    root = api.get("/v2/groups")

    assert root.status_code == 200, root.text
    [waiting] = [group for group in root.json()["groups"] if group["id"] == "/waiting"]
    assert waiting["dependencies"] == ["/product"]
    assert waiting["version"] == created.json()["version"]
