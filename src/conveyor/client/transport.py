"""`Transport`: one httpx connection pool to the server, requests whose error answers become
`ClientError`s, and event streams read line by line. `ConveyorClient` is built on it."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from conveyor.client.errors import error_from_response, translated_errors

DEFAULT_SERVER = "http://127.0.0.1:8080"
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_BODY = {"Content-Type": "application/json"}


class Transport:
    def __init__(self, base_url: str = DEFAULT_SERVER, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"Accept": "application/json"}
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        # The server refuses a change whose body is not declared JSON; say so even without one.
        headers = JSON_BODY if method.upper() in CHANGING_METHODS else None
        with translated_errors(self.base_url):
            response = self._http.request(method, path, json=body, params=params, headers=headers)
        if response.is_error:
            raise error_from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _event_stream(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> Generator[str, None, None]:
        """The lines of a Server-Sent Events answer as they come, without a read timeout, until
        the server ends it or the generator is closed (which closes the connection)."""
        headers = {"Accept": "text/event-stream"}
        timeout = httpx.Timeout(self.timeout, read=None)
        with (
            translated_errors(self.base_url),
            self._http.stream(
                "GET", path, params=params, headers=headers, timeout=timeout
            ) as response,
        ):
            if response.is_error:
                response.read()
                raise error_from_response(response)
            yield from response.iter_lines()
