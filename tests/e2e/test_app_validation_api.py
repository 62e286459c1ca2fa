"""Bad app definitions get Marathon's answers (422 with field paths, 400 for bad JSON, 404, 409),
and a property-based fuzz of POST /v2/apps and PUT /v2/apps/{id} never yields a 5xx and never
changes what is stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

BASE = {"id": "/fuzz/app", "cmd": "sleep 1000", "instances": 0, "cpus": 0.1, "mem": 32}


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.conftest import next_port_block

    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", port_range=next_port_block())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=module_server.url, timeout=10) as client:
        response = client.post("/v2/apps", json={**BASE, "id": "/fuzz/existing"})
        assert response.status_code == 201, response.text
        yield client


def stored(http: httpx.Client) -> object:
    return [
        (app["id"], app["version"], app["cmd"], app["instances"])
        for app in http.get("/v2/apps").json()["apps"]
    ]


def test_invalid_definition_gets_marathons_422_body(http: httpx.Client) -> None:
    response = http.post(
        "/v2/apps",
        json={
            "id": "/Bad_Id",
            "cmd": "x",
            "args": ["y"],
            "cpus": -1,
            "upgradeStrategy": {"minimumHealthCapacity": 2},
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Object is not valid"
    paths = {detail["path"] for detail in body["details"]}
    assert "/id" in paths
    assert "/cpus" in paths
    assert "/upgradeStrategy/minimumHealthCapacity" in paths
    assert all(detail["errors"] for detail in body["details"])


def test_malformed_json_is_a_400(http: httpx.Client) -> None:
    response = http.post(
        "/v2/apps", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON"


def test_unknown_app_is_a_404_with_marathons_message(http: httpx.Client) -> None:
    response = http.get("/v2/apps/no/such/app")
    assert response.status_code == 404
    assert response.json() == {"message": "App '/no/such/app' does not exist"}


def test_creating_an_existing_app_is_a_409(http: httpx.Client) -> None:
    assert http.post("/v2/apps", json={**BASE, "id": "/fuzz/existing"}).status_code == 409


def test_a_deployment_holds_the_app_until_forced(http: httpx.Client) -> None:
    slow = {
        "id": "/fuzz/held",
        "cmd": "sleep 1000",
        "instances": 1,
        "cpus": 0.1,
        "mem": 32,
        "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": "false"}, "intervalSeconds": 1}
        ],
    }
    created = http.post("/v2/apps", json=slow)
    assert created.status_code == 201
    held = http.put("/v2/apps/fuzz/held", json={"instances": 2})
    assert held.status_code == 409
    body = held.json()
    assert body["deployments"] == [{"id": created.headers["Marathon-Deployment-Id"]}]
    forced = http.put("/v2/apps/fuzz/held?force=true", json={"instances": 0})
    assert forced.status_code == 200
    assert http.delete("/v2/apps/fuzz/held?force=true").status_code == 200


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
app_keys = st.sampled_from(
    [
        "id",
        "cmd",
        "args",
        "instances",
        "cpus",
        "mem",
        "disk",
        "ports",
        "portDefinitions",
        "healthChecks",
        "upgradeStrategy",
        "constraints",
        "env",
        "labels",
        "backoffFactor",
        "container",
        "dependencies",
        "killSelection",
        "version",
        "requirePorts",
    ]
)
mutations = st.dictionaries(app_keys, json_values, min_size=1, max_size=4)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutation=mutations, put=st.booleans(), raw=st.one_of(st.none(), json_values))
def test_fuzzed_definitions_never_crash_and_never_change_stored_apps(
    http: httpx.Client, mutation: dict[str, object], put: bool, raw: object
) -> None:
    before = stored(http)
    document = raw if raw is not None and not isinstance(raw, dict) else {**BASE, **mutation}
    if put:
        response = http.put("/v2/apps/fuzz/existing", json=document)
    else:
        response = http.post("/v2/apps", json=document)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert stored(http) == before, response.text
    else:
        # a valid change: put things back so the next example starts from the same state
        created = {a[0] for a in stored(http)} - {a[0] for a in before}
        for app_id in created:
            http.delete(f"/v2/apps{app_id}?force=true")
