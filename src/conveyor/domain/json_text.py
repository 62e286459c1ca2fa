"""JSON text read within bounds: the one parser every request body passes (api/admission.py,
webhook payloads).

A document nested deeper than `MAX_JSON_DEPTH`, an object that names a key twice (parsers disagree
on which value wins) and text that is not Unicode (a lone surrogate such as `"\\ud800"` cannot be
stored or printed) are refused here, naming where, before anything reads the document. The walk
that checks them is iterative and linear in the size of the document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import Invalid, MalformedInput, Violation
from conveyor.domain.limits import MAX_JSON_DEPTH

NOT_UNICODE = "must be valid Unicode text (found a lone surrogate)"
TOO_DEEP = f"JSON nesting deeper than {MAX_JSON_DEPTH} levels is not allowed"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


def _not_a_number(name: str) -> JsonValue:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes | str) -> JsonValue:
    """The document in `raw` (empty text is `null`). Raises MalformedInput (→ 400) for text
    that is not JSON, nests too deeply or repeats a key, Invalid (→ 422) for text that is not
    Unicode, naming the path."""
    try:
        document: JsonValue = json.loads(
            raw or b"null", object_pairs_hook=_unique_object, parse_constant=_not_a_number
        )
    except RecursionError as error:
        raise MalformedInput(TOO_DEEP) from error
    except _DuplicateKey as error:
        raise MalformedInput(f"duplicate key '{_printable(error.key)}' in an object") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedInput(f"Unparsable JSON: {error}") from error
    _check_document(document)
    return document


@dataclass(frozen=True)
class _Where:
    """A path built only when it is reported: the parent and this step's key or index."""

    parent: _Where | None
    step: str | int

    def render(self) -> str:
        steps: list[str | int] = []
        where: _Where | None = self
        while where is not None:
            steps.append(where.step)
            where = where.parent
        path = ""
        for step in reversed(steps):
            path = f"{path}({step})" if isinstance(step, int) else f"{path}/{_printable(step)}"
        return path if path.startswith("/") else "/" + path


def string_paths(document: JsonValue, matches: Callable[[str], bool]) -> list[str]:
    """The paths (Marathon's form, `/env/NAME`, `/args(0)`) of the strings in `document`, keys
    included, for which `matches` holds."""
    return [
        _render(where)
        for value, _, where in _nodes(document)
        if isinstance(value, str) and matches(value)
    ]


def _check_document(document: JsonValue) -> None:
    """Depth and Unicode, in one walk."""
    for value, depth, where in _nodes(document):
        if isinstance(value, str):
            if not _is_unicode(value):
                raise Invalid([Violation(_render(where), NOT_UNICODE)])
        elif isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
            raise MalformedInput(TOO_DEEP)


def _nodes(document: JsonValue) -> Iterator[tuple[JsonValue, int, _Where | None]]:
    """Every value and key of `document` with its depth and path, depth first, iteratively (no
    recursion, however deep the input). A key comes with the path of its value."""
    stack: list[tuple[JsonValue, int, _Where | None]] = [(document, 0, None)]
    while stack:
        value, depth, where = stack.pop()
        yield value, depth, where
        if isinstance(value, list):
            stack.extend((item, depth + 1, _Where(where, i)) for i, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                child = _Where(where, key)
                yield key, depth + 1, child
                stack.append((item, depth + 1, child))


def _render(where: _Where | None) -> str:
    return "/" if where is None else where.render()


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(text: str) -> str:
    """`text` safe to put in a message: lone surrogates escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
