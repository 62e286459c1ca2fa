"""Fuzzing `/hooks/git` (GitHub, Gitea, GitLab and generic push deliveries) and `/api/pipelines`
(registrations, changes, triggers) on a real server. Every case is judged by the `Referee`:
no 5xx, nothing refused is stored, `/ping` within 1 s."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import examples
from tests.fuzz.delivery_strategies import (
    pipeline_bodies,
    pipeline_names,
    push_deliveries,
)
from tests.fuzz.referee import Referee
from tests.fuzz.strategies import (
    bodies,
    hostile_values,
    one_in,
    query_values,
)

pytestmark = pytest.mark.slow


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    headers, document = draw(push_deliveries())
    body = draw(bodies(st.just(document)))
    if one_in(draw, 6):
        headers["content-type"] = "application/x-www-form-urlencoded"
        body = b"payload=" + quote(body.decode("utf-8", "replace")).encode()
    return headers, body


@examples(80)
@given(delivery=deliveries())
def test_fuzzed_push_deliveries_start_no_unsigned_build(
    referee: Referee, delivery: tuple[dict[str, str], bytes]
) -> None:
    headers, body = delivery
    response = referee.send("POST", "/hooks/git", content=body, headers=headers)
    if response.status_code == 202:
        assert response.json()["builds"] == [], response.text


@examples(60)
@given(body=bodies(pipeline_bodies()))
def test_fuzzed_pipeline_registrations_are_stored_or_refused_cleanly(
    referee: Referee, body: bytes
) -> None:
    referee.send("POST", "/api/pipelines", content=body)


@examples(40)
@given(
    name=st.one_of(st.just("fuzz-seed"), pipeline_names),
    data=st.data(),
)
def test_fuzzed_pipeline_changes_are_stored_or_refused_cleanly(
    referee: Referee, name: str, data: st.DataObject
) -> None:
    document = data.draw(pipeline_bodies())
    if isinstance(document, dict) and data.draw(st.booleans()):
        document = {**document, "name": name}
    body = data.draw(bodies(st.just(document)))
    referee.send("PUT", f"/api/pipelines/{quote(name, safe='')}", content=body)


BUILD_ROUTES = [
    ("POST", "/builds"),
    ("GET", "/builds"),
    ("GET", "/builds/{number}"),
    ("POST", "/builds/{number}/retrigger"),
    ("POST", "/builds/{number}/kill"),
    ("POST", "/builds/{number}/steps/{step}/kill"),
    ("POST", "/builds/{number}/steps/{step}/release"),
    ("GET", "/builds/{number}/steps/{step}/output"),
    ("POST", "/builds/{number}/reports"),
    ("DELETE", ""),
]


@st.composite
def build_requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    """A request to a build route of a pipeline that does not exist: method, URL, query
    parameters (never `follow`, which streams) and body."""
    name = draw(pipeline_names.filter(lambda name: name != "fuzz-seed"))
    method, template = draw(st.sampled_from(BUILD_ROUTES))
    number = draw(st.one_of(st.integers(-2, 3).map(str), query_values))
    step = draw(st.one_of(st.sampled_from(["1", "2.1", "0", "-1", "1..2", "a"]), query_values))
    path = template.format(number=quote(number, safe=""), step=quote(step, safe=""))
    names = st.sampled_from(["limit", "before", "after", "stream"])
    params = draw(st.lists(st.tuples(names, query_values), max_size=2))
    body = draw(bodies(hostile_values)) if method == "POST" else None
    return method, f"/api/pipelines/{quote(name, safe='')}{path}", params, body


@examples(40)
@given(request=build_requests())
def test_fuzzed_build_routes_of_unknown_pipelines_are_refused(
    referee: Referee, request: tuple[str, str, list[tuple[str, str]], bytes | None]
) -> None:
    """Builds of pipelines that do not exist: nothing to start, so nothing may be stored (a
    path that ends in a slash is redirected)."""
    method, url, params, body = request
    response = referee.send(method, url, content=body, params=params)
    assert response.status_code >= 300, response.text
