"""Which requests reach a handler at all: the edge's answer to cross-site and oversized input.

A server that listens on a loopback address answers only requests addressed to a loopback name
(`Host: localhost:8080`, `127.0.0.1:8080`): a web page whose own name was made to resolve to
127.0.0.1 (DNS rebinding) would otherwise be the server's "own origin" and could read and
change everything.

A request that changes state (POST, PUT, PATCH, DELETE) is admitted only

- from the server's own origin, a configured allowed origin, or a client that is not a browser
  (no `Origin`, no cross-site `Sec-Fetch-Site`)                              else 403;
- with a JSON body (`Content-Type: application/json`), or none               else 415;
- with a body within `max_request_bytes`                                      else 413;
- with a body that is JSON within bounds (`domain/json_text.py`)                    else 400/422.

A browser sends a form, `text/plain` or `x-www-form-urlencoded` POST from any page without a
preflight, so these rules are what keeps a page on the web from deploying a command on a
developer's machine. No CORS headers are ever sent. The one exception to "JSON only" is
`/hooks/git`, which also takes GitHub's form encoding (`payload=<json>`): git hosts are not
browsers, and a browser's form would still carry an `Origin`.

The body is read once, here, and handed on to the application; the parsed document is kept in
the request's state for `read_json`, so a `/v2` body is parsed once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.errors import error_body
from conveyor.domain.errors import ConveyorError
from conveyor.domain.json_text import parse_json
from conveyor.domain.limits import MAX_REQUEST_BYTES

JSON_MEDIA_TYPE = "application/json"
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_ENCODED_PATHS = frozenset({"/hooks/git"})
PARSED_DOCUMENT = "json_document"
"""The key of the parsed body in the request's state (`request.state.json_document`)."""


@dataclass(frozen=True)
class AdmissionPolicy:
    max_request_bytes: int = MAX_REQUEST_BYTES
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    """Origins (`https://ci.example.org`) besides the server's own that may change state."""
    loopback_only: bool = False
    """The server listens on a loopback address: every request must name a loopback host."""

    @staticmethod
    def of(
        *, max_request_bytes: int, allowed_origins: Iterable[str], listen_host: str = ""
    ) -> AdmissionPolicy:
        origins = frozenset(o.strip().rstrip("/").lower() for o in allowed_origins if o.strip())
        return AdmissionPolicy(max_request_bytes, origins, is_loopback(listen_host))


def is_loopback(host: str) -> bool:
    """`localhost`, `127.0.0.1` (any of 127/8) or `::1`, with or without brackets."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Admission:
    def __init__(self, app: ASGIApp, policy: AdmissionPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        if self.policy.loopback_only and host is not None and not is_loopback(_hostname(host)):
            message = (
                f"Host {host!r} is not this server: it listens on a loopback "
                "address and answers only requests addressed to one (a page cannot reach it by "
                "another name, as DNS rebinding would)"
            )
            await _answer(send, 403, {"message": message})
            return
        if scope["method"] not in CHANGING_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            self._check_origin(headers)
            is_json = self._check_content_type(scope["path"], headers)
            body = await self._read_body(headers, receive)
            if body and is_json:
                scope.setdefault("state", {})[PARSED_DOCUMENT] = parse_json(body)
        except _Refused as refused:
            await _answer(send, refused.status, {"message": refused.message})
            return
        except ConveyorError as error:
            await _answer(send, *error_body(error))
            return
        await self.app(scope, _replaying(body, receive), send)

    def _check_origin(self, headers: Headers) -> None:
        origin = headers.get("origin")
        if origin is None:
            fetch_site = headers.get("sec-fetch-site", "").lower()
            if fetch_site not in ("cross-site", "same-site"):
                return  # not a browser, or a browser on this server's own page
            shown = f"Sec-Fetch-Site: {fetch_site}"
        elif self._is_allowed(origin, headers.get("host", "")):
            return
        else:
            shown = f"Origin: {origin}"
        raise _Refused(
            403,
            f"Cross-origin request refused ({shown}): state changes are accepted only from "
            "this server's own pages or an origin allowed with --allow-origin",
        )

    def _is_allowed(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.policy.allowed_origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host.lower()

    def _check_content_type(self, path: str, headers: Headers) -> bool:
        """Whether the body is JSON; refuses a body of any other type."""
        content_type = headers.get("content-type", "")
        if is_json_media_type(content_type):
            return True
        if not _has_body(headers):
            return False
        if path in FORM_ENCODED_PATHS and content_type.lower().startswith(
            "application/x-www-form-urlencoded"
        ):
            return False
        raise _Refused(
            415,
            f"HTTP 415 Unsupported Media Type: send the body as application/json "
            f"(got {content_type or 'no Content-Type'})",
        )

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes:
        limit = self.policy.max_request_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _Refused(413, _too_large(limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refused(413, _too_large(limit))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _hostname(host: str) -> str:
    """`127.0.0.1:8080` → `127.0.0.1`, `[::1]:8080` → `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_json_media_type(content_type: str) -> bool:
    """`application/json`, with parameters (`; charset=utf-8`) or as a `+json` suffix type."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length", "")
    return (length.isdigit() and int(length) > 0) or "chunked" in headers.get(
        "transfer-encoding", ""
    ).lower()


def _too_large(limit: int) -> str:
    return f"Request body larger than {limit} bytes (--max-request-bytes)"


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the application the body already read, then the server's own
    messages (the disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, body: dict[str, object]) -> None:
    payload = orjson.dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
