"""The routes under an app's id are declared (Starlette's `path` convertor takes ids with
slashes); the router answers what no route takes in Marathon's shape."""

from __future__ import annotations

import httpx
import pytest

APP = {"id": "/shop/web", "cmd": "sleep 600", "instances": 0}


@pytest.fixture
def with_app(api: httpx.Client) -> httpx.Client:
    assert api.post("/v2/apps", json=APP).status_code == 201
    return api


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/apps/shop/web"),
        ("PUT", "/v2/apps/shop/web/tasks"),
        ("POST", "/v2/apps/shop/web/versions"),
        ("DELETE", "/v2/apps/shop/web/versions"),
        ("PATCH", "/v2/apps/shop/web/restart"),
    ],
)
def test_a_method_no_route_takes_is_a_405_in_marathons_shape(
    with_app: httpx.Client, method: str, path: str
) -> None:
    response = with_app.request(method, path, json={})
    assert response.status_code == 405
    assert response.json() == {"message": "HTTP 405 Method Not Allowed"}
    assert "allow" in response.headers


def test_an_unknown_route_is_a_404_in_marathons_shape(api: httpx.Client) -> None:
    response = api.get("/v2/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"message": "HTTP 404 Not Found"}


def test_each_route_under_an_id_with_slashes_reaches_its_app(with_app: httpx.Client) -> None:
    assert with_app.get("/v2/apps/shop/web").json()["app"]["id"] == "/shop/web"
    assert with_app.get("/v2/apps/shop/web/tasks").json() == {"tasks": []}
    [version] = with_app.get("/v2/apps/shop/web/versions").json()["versions"]
    assert with_app.get(f"/v2/apps/shop/web/versions/{version}").json()["id"] == "/shop/web"
    assert with_app.delete("/v2/apps/shop/web/tasks").json() == {"tasks": []}
    restarted = with_app.post("/v2/apps//shop/web/restart", params={"force": "true"})
    assert restarted.status_code == 200, restarted.text
    assert [app["id"] for app in with_app.get("/v2/apps/").json()["apps"]] == ["/shop/web"]
    assert with_app.delete("/v2/apps/shop/web", params={"force": "true"}).status_code == 200


def test_an_unknown_task_of_an_app_is_a_404(with_app: httpx.Client) -> None:
    response = with_app.delete("/v2/apps/shop/web/tasks/shop_web.nope")
    assert response.status_code == 404
    assert response.json() == {"message": "Task 'shop_web.nope' does not exist"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v2/apps/shop/web/restart", "POST"),
        ("PUT", "/v2/apps/shop/web/tasks/shop_web.1", "DELETE"),
        ("PATCH", "/v2/apps/shop/web/versions/2024-01-01T00:00:00.000Z", "GET"),
    ],
)
def test_a_path_under_an_app_changes_no_app_of_that_name(
    with_app: httpx.Client, method: str, path: str, allowed: str
) -> None:
    response = with_app.request(method, path, json={"cmd": "sleep 1"})
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert [app["id"] for app in with_app.get("/v2/apps").json()["apps"]] == ["/shop/web"]
