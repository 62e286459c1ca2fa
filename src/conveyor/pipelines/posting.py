"""POSTing JSON to the server over one kept-alive connection, with the standard library's
`http.client`: a worker imports this instead of a full HTTP client library, which saves a
noticeable part of its start-up (a build's first step runs that much sooner)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from http.client import HTTPConnection


def http_errors() -> type[Exception]:
    from http.client import HTTPException

    return HTTPException


class PostError(Exception):
    """The server could not be reached, or the connection broke."""


class JsonPoster:
    def __init__(self, url: str, *, headers: dict[str, str], timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._path = parts.path or "/"
        self._headers = {"Content-Type": "application/json", **headers}
        self._timeout = timeout
        self._connection: HTTPConnection | None = None

    def _connect(self) -> HTTPConnection:
        # http.client (with the email package and ssl it loads) is imported on first use: in
        # the shipper's thread, while the worker's main thread checks out the build's commit
        from http.client import HTTPConnection, HTTPSConnection

        if self._connection is None:
            kind = HTTPSConnection if self._https else HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def post(self, body: bytes) -> tuple[int, bytes]:
        """The answer's status and body. A kept-alive connection the server closed meanwhile
        is opened again once."""
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request("POST", self._path, body, self._headers)
                response = connection.getresponse()
                return response.status, response.read()
            except (OSError, http_errors()) as error:
                self.close()
                if attempt == 2:
                    raise PostError(str(error) or type(error).__name__) from error
        raise AssertionError("unreachable")

    def post_json(self, body: bytes) -> tuple[int, object]:
        status, data = self.post(body)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode("utf-8", "replace")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
