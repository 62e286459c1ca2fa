"""What the client raises. Imports nothing of Conveyor.

```
ClientError                  the server could not do what was asked, or could not be asked:
 │                           status (None without an HTTP answer), message, details
 ├── ServerUnreachable       no connection to the server (refused, unknown host, timed out)
 ├── NotFound                404: no such app, task, deployment or version
 ├── Conflict                409: the app exists already, or deployments lock it
 └── Invalid                 400/422: the request was refused; `details` name the fields
```

A deployment that fails is not an exception: `wait_for_deployment` returns it as a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class FieldError:
    """One entry of Marathon's `details`: what is wrong at `path` of the request body."""

    path: str
    errors: tuple[str, ...]


class ClientError(Exception):
    def __init__(
        self, status: int | None, message: str, details: tuple[FieldError, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


class ServerUnreachable(ClientError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(None, f"cannot reach the Conveyor server at {url}: {reason}")
        self.url = url
        self.reason = reason


class NotFound(ClientError):
    pass


class Conflict(ClientError):
    def __init__(
        self,
        status: int | None,
        message: str,
        details: tuple[FieldError, ...] = (),
        *,
        deployment_ids: tuple[str, ...] = (),
    ) -> None:
        super().__init__(status, message, details)
        self.deployment_ids = deployment_ids


class Invalid(ClientError):
    pass


def _field_errors(body: object) -> tuple[FieldError, ...]:
    details = body.get("details") if isinstance(body, dict) else None
    if not isinstance(details, list):
        return ()
    found = []
    for item in details:
        if isinstance(item, dict):
            errors = item.get("errors")
            messages = errors if isinstance(errors, list) else [errors]
            found.append(FieldError(str(item.get("path", "/")), tuple(map(str, messages))))
    return tuple(found)


def _message(response: httpx.Response, body: object) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    text = response.text.strip()
    return text or f"HTTP {response.status_code} {response.reason_phrase}"


def _deployment_ids(body: object) -> tuple[str, ...]:
    deployments = body.get("deployments") if isinstance(body, dict) else None
    if not isinstance(deployments, list):
        return ()
    return tuple(str(d["id"]) for d in deployments if isinstance(d, dict) and "id" in d)


def error_from_response(response: httpx.Response) -> ClientError:
    """The exception for an error answer, carrying the server's own message."""
    try:
        body: object = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    status = response.status_code
    message, details = _message(response, body), _field_errors(body)
    if status == 404:
        return NotFound(status, message, details)
    if status == 409:
        return Conflict(status, message, details, deployment_ids=_deployment_ids(body))
    if status in (400, 422):
        return Invalid(status, message, details)
    return ClientError(status, message, details)


@contextmanager
def translated_errors(base_url: str) -> Iterator[None]:
    """httpx's transport errors as ClientErrors: ServerUnreachable when no connection could be
    made, a ClientError without status when an answer broke off or did not come in time."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        raise ServerUnreachable(base_url, str(error) or type(error).__name__) from error
    except httpx.TimeoutException as error:
        raise ClientError(None, f"the server at {base_url} did not answer in time") from error
    except httpx.TransportError as error:
        reason = str(error) or type(error).__name__
        raise ClientError(None, f"the connection to {base_url} failed: {reason}") from error
