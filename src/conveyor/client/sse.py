"""Server-Sent Events, read line by line (the server's `/v2/events` and followed logs)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SseMessage:
    event: str
    data: str
    id: str | None = None


@dataclass
class SseParser:
    """Feed it the stream's lines one at a time; it returns a message at each blank line that
    ends one. Comment lines (`: keepalive`) are skipped."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> SseMessage | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> SseMessage | None:
        if not self._data and not self._event:
            return None
        message = SseMessage(self._event or "message", "\n".join(self._data), self._id)
        self._event, self._data, self._id = "", [], None
        return message
