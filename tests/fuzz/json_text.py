"""JSON text written by hand, so a fuzz case can say what no JSON library writes: an object that
names a key twice (`Pairs`), and tokens written as they are (`Raw`): lone surrogate escapes,
`NaN`, `1e400`, a raw control character inside a string, broken syntax."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Raw:
    """JSON text written as is, e.g. `NaN` or `"\\ud800"` (a lone surrogate escape)."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """An object whose keys may repeat: `Pairs((("cmd", "a"), ("cmd", "b")))`."""

    items: tuple[tuple[str | Raw, Any], ...]


def json_text(value: Any, *, ensure_ascii: bool = True) -> str:
    """`value` as JSON text; `Raw` parts are written as they are."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs | dict):
        items = value.items if isinstance(value, Pairs) else tuple(value.items())
        members = (
            f"{json_text(key, ensure_ascii=ensure_ascii)}: "
            f"{json_text(item, ensure_ascii=ensure_ascii)}"
            for key, item in items
        )
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json_text(item, ensure_ascii=ensure_ascii) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ensure_ascii)


def json_bytes(value: Any, *, ensure_ascii: bool = True) -> bytes:
    """`json_text` as UTF-8; a lone surrogate written into a Python string is kept as the bytes
    Python would make of it (`surrogatepass`), which no UTF-8 decoder accepts."""
    return json_text(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
