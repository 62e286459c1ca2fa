"""The one place that maps Conveyor's errors to HTTP responses, in the body shape Marathon's
clients expect (`/v2`) — the native API uses the same shape."""

from __future__ import annotations

from collections import defaultdict
from http import HTTPStatus

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.responses import FastJSONResponse
from conveyor.domain.errors import (
    Conflict,
    ConveyorError,
    Invalid,
    MalformedInput,
    NotFound,
    Unavailable,
)


def error_body(error: ConveyorError) -> tuple[int, dict[str, object]]:
    if isinstance(error, Invalid):
        by_path: dict[str, list[str]] = defaultdict(list)
        for violation in error.violations:
            by_path[violation.path].append(violation.error)
        details = [{"path": path, "errors": errors} for path, errors in by_path.items()]
        return 422, {"message": error.message, "details": details}
    if isinstance(error, MalformedInput):
        return 400, {
            "message": "Invalid JSON",
            "details": [{"path": "/", "errors": [error.message]}],
        }
    if isinstance(error, NotFound):
        return 404, {"message": error.message}
    if isinstance(error, Conflict):
        deployments = [{"id": deployment_id} for deployment_id in error.deployment_ids]
        return 409, {"message": error.message, "deployments": deployments}
    if isinstance(error, Unavailable):
        return 503, {"message": error.message}
    return 500, {"message": error.message}


async def conveyor_error_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, ConveyorError)
    status, body = error_body(error)
    return FastJSONResponse(body, status_code=status)


async def http_error_response(request: Request, error: Exception) -> Response:
    """What the router answers itself (no route: 404, no such method: 405), in Marathon's
    shape: `{"message": "HTTP 405 Method Not Allowed"}`."""
    assert isinstance(error, StarletteHTTPException)
    phrase = HTTPStatus(error.status_code).phrase
    detail = str(error.detail)
    message = f"HTTP {error.status_code} {phrase}" if detail == phrase else detail
    return FastJSONResponse(
        {"message": message}, status_code=error.status_code, headers=error.headers
    )


async def request_validation_response(request: Request, error: Exception) -> Response:
    """FastAPI's body/query validation errors, in the same shape as every other 422: the field
    as a path and the rule it broke."""
    assert isinstance(error, RequestValidationError)
    by_path: dict[str, list[str]] = defaultdict(list)
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query")]
        by_path["/" + "/".join(location)].append(str(item.get("msg", "invalid")))
    details = [{"path": path, "errors": errors} for path, errors in by_path.items()]
    return FastJSONResponse({"message": "Object is not valid", "details": details}, status_code=422)
