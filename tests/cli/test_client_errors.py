"""The client's errors carry the server's message, field details and locking deployments."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from conveyor.cli.main import app
from conveyor.cli.output import error_text
from conveyor.client import (
    ClientError,
    Conflict,
    ConveyorClient,
    FieldError,
    Invalid,
    NotFound,
    ServerUnreachable,
    normalize_app_id,
)
from conveyor.client.errors import error_from_response
from tests.support.servers import free_port, serving_in_thread


def test_marathon_validation_error_keeps_every_field_error() -> None:
    body = {
        "message": "Object is not valid",
        "details": [{"path": "/cpus", "errors": ["error.min", "must be positive"]}],
    }
    error = error_from_response(httpx.Response(422, json=body))
    assert isinstance(error, Invalid)
    assert error.status == 422
    assert error.message == "Object is not valid"
    assert error.details == (FieldError("/cpus", ("error.min", "must be positive")),)
    assert error_text(error).plain == (
        "error: Object is not valid\n  cpus: is too small\n  cpus: must be positive"
    )


def test_marathon_error_codes_are_printed_in_words() -> None:
    body = {
        "message": "Object is not valid",
        "details": [
            {"path": "/instances", "errors": ["error.expected.jsnumber"]},
            {"path": "/healthChecks(0)/protocol", "errors": ["error.unknown.enum.literal"]},
            {"path": "/cmd", "errors": ["error.path.missing"]},
            {"path": "/", "errors": ["cannot specify both ports and port definitions"]},
            {"path": "/mem", "errors": ["error.some.new.code"]},
        ],
    }
    lines = error_text(error_from_response(httpx.Response(422, json=body))).plain.splitlines()
    assert lines == [
        "error: Object is not valid",
        "  instances: expected a number",
        "  healthChecks[0].protocol: is not one of the allowed values",
        "  cmd: is required",
        "  cannot specify both ports and port definitions",
        "  mem: error.some.new.code",
    ]


def test_not_found_and_conflict_are_told_apart() -> None:
    missing = error_from_response(httpx.Response(404, json={"message": "App '/x' does not exist"}))
    assert isinstance(missing, NotFound)
    assert missing.message == "App '/x' does not exist"
    body = {"message": "locked", "deployments": [{"id": "d1"}]}
    locked = error_from_response(httpx.Response(409, json=body))
    assert isinstance(locked, Conflict)
    assert locked.deployment_ids == ("d1",)


def test_an_answer_that_is_not_json_still_gives_a_message() -> None:
    error = error_from_response(httpx.Response(502, text="bad gateway"))
    assert type(error) is ClientError
    assert error.message == "bad gateway"


def test_app_ids_are_normalised() -> None:
    assert normalize_app_id("web") == "/web"
    assert normalize_app_id("/shop/web/") == "/shop/web"


def test_client_raises_server_unreachable_when_nothing_listens() -> None:
    with (
        ConveyorClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client,
        pytest.raises(ServerUnreachable),
    ):
        client.list_apps()


def test_cli_says_how_to_start_a_server_it_cannot_reach() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--server", url, "apps", "list"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"cannot reach the Conveyor server at {url} — is it running?" in result.stderr
    assert "./scripts/up" in result.stderr


def test_server_can_come_from_the_environment() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["tasks", "list"], env={"CONVEYOR_SERVER": url})
    assert result.exit_code == 1
    assert url in result.stderr


def test_every_changing_request_declares_a_json_body() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen: list[tuple[str, str | None]] = []

    async def record(request: Request) -> JSONResponse:
        seen.append((request.method, request.headers.get("content-type")))
        return JSONResponse({"deploymentId": "d1", "version": "v1", "app": {"id": "/web"}})

    methods = ["GET", "POST", "PUT", "DELETE"]
    asgi = Starlette(routes=[Route("/v2/apps/{rest:path}", record, methods=methods)])
    with serving_in_thread(asgi) as url, ConveyorClient(url) as client:
        client.get_app("web")
        client.restart_app("web")
        client.scale_app("web", instances=2)
        client.delete_app("web")
    changing = [header for method, header in seen if method != "GET"]
    assert changing == ["application/json"] * 3
