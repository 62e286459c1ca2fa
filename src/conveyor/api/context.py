"""What every request handler can reach: the store, the controllers' doorbell, the clock and
facts about this server. Stored on `app.state.context` by `build_api`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from conveyor.api.admission import PARSED_DOCUMENT
from conveyor.api.control import Control
from conveyor.domain.clock import Clock
from conveyor.domain.documents import JsonValue
from conveyor.domain.json_text import parse_json
from conveyor.store import Store


@dataclass(frozen=True)
class ServerInfo:
    version: str
    listen: str
    hostname: str
    data_dir: str
    database: str
    engine: str


@dataclass(frozen=True)
class Context:
    store: Store
    control: Control
    clock: Clock
    info: ServerInfo


def context_of(request: Request) -> Context:
    context = request.app.state.context
    assert isinstance(context, Context)
    return context


async def read_json(request: Request) -> JsonValue:
    """The request body as JSON, as `Admission` parsed it within bounds; MalformedInput (→ 400)
    when it is not JSON."""
    parsed: JsonValue = getattr(request.state, PARSED_DOCUMENT, None)
    if parsed is not None:
        return parsed
    return parse_json(await request.body())


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter as Marathon reads it (`?force=true`)."""
    return request.query_params.get(name, "false").lower() in ("true", "1", "yes")
