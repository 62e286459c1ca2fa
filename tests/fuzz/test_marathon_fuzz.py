"""Fuzzing Marathon's `/v2` on a real server: app definitions (create, change, scale, arrays),
groups, task kills, deployments and every listing's query string, valid-looking and hostile.
Every case is judged by the `Referee`: no 5xx, nothing refused is stored, `/ping` within 1 s."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.app_strategies import (
    SEED_APP_IDS,
    fuzzed_apps,
    fuzzed_groups,
)
from tests.fuzz.budget import examples
from tests.fuzz.referee import Referee, live_task_id
from tests.fuzz.strategies import (
    bodies,
    harmless_counts,
    hostile_scalars,
    hostile_values,
    one_in,
    path_parts,
    query_values,
    raw_query_values,
    raw_tokens,
    segments,
)

pytestmark = pytest.mark.slow


@examples(90)
@given(body=bodies(fuzzed_apps()), force=st.booleans())
def test_fuzzed_app_definitions_are_created_or_refused_cleanly(
    referee: Referee, body: bytes, force: bool
) -> None:
    referee.send("POST", f"/v2/apps?force={str(force).lower()}", content=body)


def _without_id(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: value for key, value in document.items() if key != "id"}
    return document


@st.composite
def app_changes(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """PUT or PATCH of a seed app (or one that does not exist yet): method, URL, body."""
    target = draw(st.sampled_from([*SEED_APP_IDS, "/fuzz/seed/new"]))
    method = draw(st.sampled_from(["PUT", "PATCH"]))
    partial = draw(st.sampled_from(["", "&partialUpdate=false", "&partialUpdate=true"]))
    document = draw(fuzzed_apps())
    if draw(st.booleans()):
        document = _without_id(document)
    body = draw(bodies(st.just(document)))
    return method, f"/v2/apps{target}?force=true{partial}", body


@examples(70)
@given(change=app_changes())
def test_fuzzed_changes_of_an_app_are_applied_or_refused_cleanly(
    referee: Referee, change: tuple[str, str, bytes]
) -> None:
    method, url, body = change
    referee.send(method, url, content=body)


@examples(40)
@given(
    body=bodies(
        st.one_of(
            st.fixed_dictionaries({"instances": st.one_of(harmless_counts, raw_tokens)}),
            st.fixed_dictionaries({"version": st.one_of(st.text(max_size=30), hostile_scalars)}),
        )
    ),
    target=st.sampled_from(SEED_APP_IDS),
)
def test_fuzzed_scales_and_rollbacks_are_applied_or_refused_cleanly(
    referee: Referee, body: bytes, target: str
) -> None:
    referee.send("PUT", f"/v2/apps{target}?force=true", content=body)


@examples(40)
@given(
    body=bodies(
        st.one_of(
            st.lists(fuzzed_apps(), min_size=1, max_size=3),
            st.lists(fuzzed_apps(), min_size=1, max_size=3),
            hostile_values,
        )
    )
)
def test_fuzzed_app_arrays_are_deployed_or_refused_cleanly(referee: Referee, body: bytes) -> None:
    referee.send("PUT", "/v2/apps?force=true", content=body)


@examples(70)
@given(
    body=bodies(fuzzed_groups()),
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
    target=st.sampled_from(["", "/fuzz", "/fuzz/explicit", "/fuzz/g"]),
)
def test_fuzzed_groups_are_created_or_refused_cleanly(
    referee: Referee, body: bytes, method: str, target: str
) -> None:
    path = "/v2/groups" if method == "POST" else f"/v2/groups{target or '/'}"
    referee.send(method, f"{path}?force=true", content=body)


@examples(30)
@given(
    body=bodies(
        st.one_of(
            st.fixed_dictionaries({"ids": st.lists(st.text(max_size=60), max_size=5)}),
            st.fixed_dictionaries(
                {"ids": st.lists(st.one_of(st.text(max_size=40), hostile_scalars), max_size=5)}
            ),
            hostile_values,
        )
    ),
    scale=st.sampled_from(["", "?scale=true", "?scale=true&force=true", "?wipe=true"]),
)
def test_fuzzed_task_kills_are_done_or_refused_cleanly(
    referee: Referee, body: bytes, scale: str
) -> None:
    referee.send("POST", f"/v2/tasks/delete{scale}", content=body)


LISTINGS = [
    ("/v2/apps", ("embed", "id", "label", "cmd")),
    ("/v2/apps/fuzz/seed/db", ("embed",)),
    ("/v2/apps/fuzz/seed/web/tasks", ("embed",)),
    ("/v2/apps/fuzz/seed/web/versions", ()),
    ("/v2/groups", ("embed",)),
    ("/v2/groups/fuzz", ("embed",)),
    ("/v2/queue", ("embed",)),
    ("/v2/deployments", ()),
    ("/v2/tasks", ("status", "status[]")),
    ("/v2/info", ()),
    ("/api/tasks", ("app",)),
    ("/api/info", ()),
    ("/metrics", ()),
]


@st.composite
def listing_queries(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], str]:
    """A listing, decoded parameters (some repeated) and a raw, percent-encoded tail."""
    path, names = draw(st.sampled_from(LISTINGS))
    known = st.sampled_from(names) if names else st.just("embed")
    keys = st.one_of(known, known, st.text(max_size=8))
    params = draw(st.lists(st.tuples(keys, query_values), max_size=4))
    raw = ""
    if one_in(draw, 4):
        raw = f"{draw(known)}={draw(raw_query_values)}"
    return path, params, raw


@examples(90)
@given(query=listing_queries(), accept=st.sampled_from(["", "text/plain", "*/*"]))
def test_fuzzed_query_strings_never_break_a_listing(
    referee: Referee, query: tuple[str, list[tuple[str, str]], str], accept: str
) -> None:
    path, params, raw = query
    headers = {"accept": accept} if accept else {}
    if raw:
        path = f"{path}?{raw}"
    response = referee.send("GET", path, params=params, headers=headers)
    assert response.status_code in (200, 400, 404, 422), response.text


@examples(70)
@given(
    parts=st.lists(path_parts, min_size=1, max_size=4),
    route=st.sampled_from(
        [
            ("GET", "/v2/apps/{}"),
            ("GET", "/v2/apps/{}/tasks"),
            ("GET", "/v2/apps/{}/versions"),
            ("GET", "/v2/apps/fuzz/seed/web/versions/{}"),
            ("DELETE", "/v2/apps/{}/tasks?scale=true"),
            ("DELETE", "/v2/apps/fuzz/seed/web/tasks/{}"),
            ("POST", "/v2/apps/{}/restart"),
            ("GET", "/v2/groups/{}"),
            ("DELETE", "/v2/groups/fuzz/f/{}"),
            ("DELETE", "/v2/deployments/{}"),
            ("DELETE", "/v2/deployments/{}?force=true"),
            ("DELETE", "/v2/queue/{}/delay"),
            ("GET", "/api/tasks/{}"),
            ("GET", "/api/deployments/{}"),
            ("GET", "/api/tasks/{}/logs"),
        ]
    ),
)
def test_fuzzed_ids_in_the_path_are_found_or_not(
    referee: Referee, parts: list[str], route: tuple[str, str]
) -> None:
    method, template = route
    referee.send(method, template.format("/".join(parts)))


@examples(40)
@given(
    stream=st.sampled_from(["stdout", "stderr", "stdout", "stderr", "stdin", "../pid", ""]),
    offset=st.one_of(st.integers(-(2**64), 2**70), st.integers(0, 100)).map(str),
    limit=st.one_of(st.integers(-(2**64), 2**70), st.integers(0, 100), query_values).map(str),
)
def test_fuzzed_log_offsets_and_limits_of_a_live_task(
    referee: Referee, stream: str, offset: str, limit: str
) -> None:
    params = [("stream", stream), ("offset", offset), ("limit", limit)]
    task_id = quote(live_task_id(referee.client), safe="")
    response = referee.send("GET", f"/api/tasks/{task_id}/logs", params=params)
    assert response.status_code in (200, 404, 422), response.text


@examples(15)
@given(app_id=st.lists(segments, min_size=1, max_size=2).map(lambda p: "/fuzz/f/" + "/".join(p)))
def test_a_deployment_of_a_fuzzed_app_can_be_cancelled(referee: Referee, app_id: str) -> None:
    """Create (with a health check that never passes, so the deployment stays), then cancel
    the deployment by rollback or by force."""
    created = referee.client.post(
        "/v2/apps",
        json={
            "id": app_id,
            "cmd": "sleep 600",
            "instances": 1,
            "healthChecks": [{"protocol": "TCP", "gracePeriodSeconds": 300}],
        },
    )
    assert created.status_code in (201, 409), created.text
    deployment = created.headers.get("Marathon-Deployment-Id", "none")
    referee.send("DELETE", f"/v2/deployments/{deployment}")
    referee.send("DELETE", f"/v2/deployments/{deployment}?force=true")
    referee.restore()
