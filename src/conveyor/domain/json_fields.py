"""Typed fields read out of JSON documents, each problem recorded as a `Violation`.

Readers never raise: a value of the wrong type or out of range is reported at its path (in
Marathon's form, `/healthChecks(0)/portIndex`) and read as `None`, so one pass over a document
collects every problem. Type errors carry the messages Marathon's JSON reader uses
(`error.expected.jsnumber`, ...); range errors the ones its validators use
(`got -1, expected 0 or more`). `null` counts as absent, as it does for Marathon.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid, Violation

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


class Violations:
    """The problems found so far in one document."""

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def add(self, path: str, error: str) -> None:
        self.found.append(Violation(path, error))

    def raise_if_any(self) -> None:
        if self.found:
            raise Invalid(self.found)


def read_string(value: JsonValue, path: str, problems: Violations) -> str | None:
    if isinstance(value, str):
        return value
    problems.add(path, "error.expected.jsstring")
    return None


def read_boolean(value: JsonValue, path: str, problems: Violations) -> bool | None:
    if isinstance(value, bool):
        return value
    problems.add(path, "error.expected.jsboolean")
    return None


def read_object(value: JsonValue, path: str, problems: Violations) -> JsonObject | None:
    if isinstance(value, dict):
        return value
    problems.add(path, "error.expected.jsobject")
    return None


def read_array(value: JsonValue, path: str, problems: Violations) -> list[JsonValue] | None:
    if isinstance(value, list):
        return value
    problems.add(path, "error.expected.jsarray")
    return None


def read_number(
    value: JsonValue,
    path: str,
    problems: Violations,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """A finite JSON number as a float, within [minimum, maximum] where given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, "error.expected.jsnumber")
        return None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        problems.add(path, "error.expected.double")
        return None
    return number if _within(number, path, problems, minimum, maximum) else None


def read_integer(
    value: JsonValue,
    path: str,
    problems: Violations,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """A JSON number that is a 32-bit integer (`2.0` counts), within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, "error.expected.jsnumber")
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        problems.add(path, "error.expected.int")
        return None
    if not INT32_MIN <= value <= INT32_MAX:
        problems.add(path, "error.expected.int")
        return None
    number = int(value)
    return number if _within(number, path, problems, minimum, maximum) else None


def _within(
    number: float, path: str, problems: Violations, minimum: float | None, maximum: float | None
) -> bool:
    if (minimum is None or minimum <= number) and (maximum is None or number <= maximum):
        return True
    if minimum is not None and maximum is not None:
        problems.add(path, f"got {number}, expected between {minimum} and {maximum}")
    elif minimum is not None:
        problems.add(path, f"got {number}, expected {minimum} or more")
    else:
        problems.add(path, f"got {number}, expected {maximum} or less")
    return False


def read_port(value: JsonValue, path: str, problems: Violations) -> int | None:
    """A port number: an integer in 0..65535 (0 asks for one to be assigned)."""
    return read_integer(value, path, problems, minimum=0, maximum=65535)


def read_enum(value: JsonValue, path: str, problems: Violations, kind: type[E]) -> E | None:
    """A member of `kind` named by a string, in any letter case (as Marathon reads enums)."""
    if not isinstance(value, str):
        problems.add(path, "error.expected.jsstring")
        return None
    for member in kind:
        if member.value.lower() == value.lower():
            return member
    problems.add(path, "error.unknown.enum.literal")
    return None


def read_list(
    value: JsonValue,
    path: str,
    problems: Violations,
    read_item: Callable[[JsonValue, str, Violations], T | None],
) -> list[T] | None:
    """A JSON array read item by item; None if it or any item is wrong."""
    items = read_array(value, path, problems)
    if items is None:
        return None
    read = [read_item(item, f"{path}({index})", problems) for index, item in enumerate(items)]
    good = [item for item in read if item is not None]
    return good if len(good) == len(read) else None


def read_strings(value: JsonValue, path: str, problems: Violations) -> tuple[str, ...] | None:
    strings = read_list(value, path, problems, read_string)
    return None if strings is None else tuple(strings)


def read_string_map(value: JsonValue, path: str, problems: Violations) -> dict[str, str] | None:
    """A JSON object whose values are all strings (labels)."""
    mapping = read_object(value, path, problems)
    if mapping is None:
        return None
    read = {key: read_string(item, f"{path}/{key}", problems) for key, item in mapping.items()}
    good = {key: item for key, item in read.items() if item is not None}
    return good if len(good) == len(read) else None


def copy_json(value: JsonValue, path: str, problems: Violations) -> JsonValue:
    """A deep copy of a JSON value, to store verbatim; anything JSON cannot hold is reported."""
    try:
        copied: JsonValue = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        problems.add(path, "error.expected.jsvalue")
        return None
    return copied


class FieldReader:
    """Reads the fields of one JSON object at `prefix`; an absent or null field gives `fallback`."""

    def __init__(self, document: JsonObject, problems: Violations, prefix: str = "") -> None:
        self.document = document
        self.problems = problems
        self.prefix = prefix

    def has(self, key: str) -> bool:
        return self.document.get(key) is not None

    def path(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def get(
        self, key: str, read: Callable[[JsonValue, str, Violations], T | None], fallback: T
    ) -> T:
        value = self.document.get(key)
        if value is None:
            return fallback
        result = read(value, self.path(key), self.problems)
        return fallback if result is None else result

    def number(
        self,
        key: str,
        fallback: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self.document.get(key)
        if value is None:
            return fallback
        result = read_number(value, self.path(key), self.problems, minimum=minimum, maximum=maximum)
        return fallback if result is None else result

    def integer(
        self, key: str, fallback: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.document.get(key)
        if value is None:
            return fallback
        result = read_integer(
            value, self.path(key), self.problems, minimum=minimum, maximum=maximum
        )
        return fallback if result is None else result

    def enum(self, key: str, fallback: E, kind: type[E]) -> E:
        value = self.document.get(key)
        if value is None:
            return fallback
        result = read_enum(value, self.path(key), self.problems, kind)
        return fallback if result is None else result
