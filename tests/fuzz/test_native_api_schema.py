"""Schemathesis over the native API's own OpenAPI schema (`/api/openapi.json`), on the fuzz
suite's real server: requests for every operation it documents, valid by the schema and not,
each judged by the `Referee` (no 5xx, nothing refused stored, `/ping` within 1 s); an answer the
schema documents must match it.

The schema is read from the running server, so cases are drawn from schemathesis's hypothesis
strategy inside one test rather than through its pytest plugin (whose lazy loading needs a
pytest private attribute that pytest 9 no longer has)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance

from tests.fuzz.budget import examples
from tests.fuzz.referee import Referee
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow


LOOSER_THAN_THE_SCHEMA = [positive_data_acceptance, status_code_conformance]
"""Checks that hold the server to a schema more precise than the one FastAPI writes: the schema
says `step` is a string where the server wants `3` or `2.1`, and leaves out the 400, 403, 404,
409, 413 and 415 answers the edge and the handlers give (their bodies are still checked where
the schema has them)."""


@pytest.fixture(scope="session")
def native_api(fuzz_server: ServerProcess) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/api/openapi.json")


def _streams(case: Any) -> bool:
    """Whether the case asks for a live stream, which never ends."""
    follow = str((case.query or {}).get("follow", "")).lower()
    accept = str((case.headers or {}).get("accept", ""))
    return follow in ("true", "1", "yes", "on", "t", "y") or "event-stream" in accept


@examples(200)
@given(data=st.data(), mode=st.sampled_from(list(GenerationMode)))
def test_the_native_api_answers_what_its_schema_says(
    referee: Referee, native_api: BaseSchema, data: st.DataObject, mode: GenerationMode
) -> None:
    case = data.draw(native_api.as_strategy(mode))
    if _streams(case):
        return
    kwargs = case.as_transport_kwargs(base_url=referee.server.url)
    referee.before()
    response = referee.client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        json=kwargs.get("json"),
        content=kwargs.get("data"),
    )
    referee.judge(response)
    case.validate_response(response, excluded_checks=LOOSER_THAN_THE_SCHEMA)
