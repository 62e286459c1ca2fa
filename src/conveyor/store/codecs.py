"""The store's private JSON format for domain objects: a dataclass becomes an object keyed by its
field names, an enum its value, a datetime its ISO 8601 text (offset kept, so it reads back
equal), a tuple a list, a mapping an object. `passthrough`-style JSON values are kept as given.

This is not Marathon's JSON (that is `domain/app_json.py`): it belongs to the store, so a field
renamed on the wire does not change what is on disk. Every field is written, defaults included,
so a changed default in code never changes a stored definition. A field missing from a stored
document (written before the field existed) reads back as its default; an unknown key is ignored.

The codec is derived once per class from its type hints, into plain closures, because reads of
thousands of instances happen on every `GET /v2/apps`. A record that contains itself (a tree of
`Detail`s) refers to its own converter through a late-bound reference, made once.
"""

from __future__ import annotations

import json
import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import orjson

T = TypeVar("T")

Convert = Callable[[Any], Any]
"""One value to its JSON form or back; `None` in a plan means the value passes unchanged."""


def _same(value: Any) -> Any:
    return value


def _encode_datetime(value: datetime) -> str:
    return value.isoformat()


class Codec(Generic[T]):
    """Encodes one dataclass type to the store's JSON text and back."""

    def __init__(self, cls: type[T]) -> None:
        self._to_json = _dataclass_converter(cls, encoding=True)
        self._from_json = _dataclass_converter(cls, encoding=False)

    def to_document(self, value: T) -> dict[str, Any]:
        document: dict[str, Any] = self._to_json(value)
        return document

    def from_document(self, document: Mapping[str, Any]) -> T:
        value: T = self._from_json(document)
        return value

    def dumps(self, value: T) -> str:
        return json_text(self._to_json(value))

    def loads(self, text: str) -> T:
        value: T = self._from_json(json.loads(text))
        return value


def json_text(value: Any) -> str:
    """Compact JSON text, by orjson (several times quicker than the standard library, which
    writes what orjson refuses: integers beyond 64 bits, which a stored definition may hold)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _is_json_union(members: tuple[Any, ...]) -> bool:
    """`JsonValue` (and anything that admits lists or dicts of anything) passes unchanged."""
    return any(typing.get_origin(member) in (list, dict) for member in members)


_made: dict[tuple[type[Any], bool], Convert] = {}
"""The converters of each dataclass made so far, by (class, encoding)."""
_making = threading.RLock()  # one thread makes converters at a time: none sees a half-made one


def _dataclass_converter(cls: type[Any], *, encoding: bool) -> Convert:
    """The (cached) converter of a dataclass. While it is being made, a field that holds the
    same class again gets a late-bound reference to it, so recursive records end."""
    key = (cls, encoding)
    with _making:
        made = _made.get(key)
        if made is not None:
            return made
        finished: list[Convert] = []

        def late_bound(value: Any) -> Any:
            return finished[0](value)

        _made[key] = late_bound
        try:
            convert = _dataclass_encoder(cls) if encoding else _dataclass_decoder(cls)
        except BaseException:
            del _made[key]
            raise
        finished.append(convert)
        _made[key] = convert
        return convert


def _dataclass_encoder(cls: type[Any]) -> Convert:
    plan = [(field.name, _encoder(hint)) for field, hint in _typed_fields(cls)]
    same = tuple(name for name, convert in plan if convert is None)
    converted = tuple((name, convert) for name, convert in plan if convert is not None)

    def encode(value: Any) -> dict[str, Any]:
        document = {name: getattr(value, name) for name in same}
        for name, convert in converted:
            document[name] = convert(getattr(value, name))
        return document

    return encode


def _dataclass_decoder(cls: type[Any]) -> Convert:
    plan = [(field.name, _decoder(hint)) for field, hint in _typed_fields(cls)]
    same = tuple(name for name, convert in plan if convert is None)
    converted = tuple((name, convert) for name, convert in plan if convert is not None)
    required = frozenset(
        field.name
        for field, _ in _typed_fields(cls)
        if field.default is MISSING and field.default_factory is MISSING
    )

    def decode_present(document: Mapping[str, Any]) -> dict[str, Any]:
        """The slow path, for documents that lack fields: defaults, or a clear error."""
        missing = required.difference(document)
        if missing:
            raise ValueError(f"stored {cls.__name__} lacks {', '.join(sorted(missing))}")
        arguments = {name: document[name] for name in same if name in document}
        for name, convert in converted:
            if name in document:
                arguments[name] = convert(document[name])
        return arguments

    def decode(document: Mapping[str, Any]) -> Any:
        try:
            arguments = {name: document[name] for name in same}
            for name, convert in converted:
                arguments[name] = convert(document[name])
        except KeyError:
            arguments = decode_present(document)
        return cls(**arguments)

    return decode


def _typed_fields(cls: type[Any]) -> list[tuple[Any, Any]]:
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    return [(field, hints[field.name]) for field in fields(cls) if field.init]


def _encoder(hint: Any) -> Convert | None:
    """How to write a value of type `hint`; `None` when it is already JSON."""
    return _converter(hint, encoding=True)


def _decoder(hint: Any) -> Convert | None:
    """How to read a value of type `hint`; `None` when JSON already holds it as it should be."""
    return _converter(hint, encoding=False)


def _converter(hint: Any, *, encoding: bool) -> Convert | None:
    if hint in (str, int, float, bool, type(None), Any):
        return None
    if hint is datetime:
        return _encode_datetime if encoding else datetime.fromisoformat
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum_value if encoding else _enum_member(hint)
    if isinstance(hint, type) and is_dataclass(hint):
        return _dataclass_converter(hint, encoding=encoding)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union_converter(typing.get_args(hint), encoding=encoding)
    if origin is tuple:
        return _tuple_converter(typing.get_args(hint), encoding=encoding)
    if origin in (dict, Mapping):
        return _mapping_converter(typing.get_args(hint), encoding=encoding)
    if origin is list:
        return _list_converter(typing.get_args(hint), encoding=encoding)
    raise TypeError(f"the store cannot encode values of type {hint!r}")


def _enum_value(value: Enum) -> Any:
    return value.value


def _enum_member(enum: type[Enum]) -> Convert:
    """A dictionary lookup: ten times quicker than calling the enum class."""
    members = {member.value: member for member in enum}
    return members.__getitem__


def _union_converter(members: tuple[Any, ...], *, encoding: bool) -> Convert | None:
    if _is_json_union(members):
        return None
    present = [member for member in members if member is not type(None)]
    if len(present) != 1:
        raise TypeError(f"the store cannot encode a union of {members!r}")
    convert = _converter(present[0], encoding=encoding)
    if convert is None or len(present) == len(members):
        return convert
    inner = convert

    def optional(value: Any) -> Any:
        return None if value is None else inner(value)

    return optional


def _tuple_converter(arguments: tuple[Any, ...], *, encoding: bool) -> Convert:
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        item = _converter(arguments[0], encoding=encoding)
        if encoding:
            return list if item is None else _map_items(item, list)
        return tuple if item is None else _map_items(item, tuple)
    items = [_converter(argument, encoding=encoding) or _same for argument in arguments]
    collect: Callable[[Any], Any] = list if encoding else tuple

    def fixed(value: Any) -> Any:
        return collect(convert(part) for convert, part in zip(items, value, strict=True))

    return fixed


def _list_converter(arguments: tuple[Any, ...], *, encoding: bool) -> Convert:
    item = _converter(arguments[0], encoding=encoding) if arguments else None
    return list if item is None else _map_items(item, list)


def _map_items(item: Convert, collect: Callable[[Any], Any]) -> Convert:
    def each(value: Any) -> Any:
        return collect([item(part) for part in value])

    return each


def _mapping_converter(arguments: tuple[Any, ...], *, encoding: bool) -> Convert:
    key, value_hint = arguments if arguments else (str, Any)
    if key is not str:
        raise TypeError(f"the store writes mappings with text keys only, not {key!r}")
    item = _converter(value_hint, encoding=encoding)
    if item is None:
        return dict
    convert_value = item

    def each(value: Mapping[str, Any]) -> dict[str, Any]:
        return {name: convert_value(part) for name, part in value.items()}

    return each
