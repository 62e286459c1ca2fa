"""What every request handler can reach: the store, the controllers' doorbell, the clock and
facts about this server. Stored on `app.state.context` by `build_api`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.requests import Request

from conveyor.api.control import Control
from conveyor.domain.clock import Clock
from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import MalformedInput
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
    """The request body as JSON; MalformedInput (→ 400) when it is not."""
    body = await request.body()
    try:
        document: JsonValue = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedInput(f"Unparsable JSON: {error}") from error
    return document


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter as Marathon reads it (`?force=true`)."""
    return request.query_params.get(name, "false").lower() in ("true", "1", "yes")
