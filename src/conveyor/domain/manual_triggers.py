"""Typed parameters of manual triggers: `{"version": {"type": "string", "default": "1.0"}}`.

Types are `string`, `integer`, `number` and `boolean`; a bare value instead of a spec is a
default of that value's type (`{"version": "1.0"}`). A person releasing the step gives values;
missing ones take their defaults; each is coerced to its type or rejected with the parameter
named. The worker (which declares the step) and the API (which takes the release) use the same
rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import Invalid, Violation

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def _as_string(value: JsonValue) -> JsonValue:
    if isinstance(value, str | int | float | bool):
        return str(value)
    raise ValueError("expected a string")


def _as_integer(value: JsonValue) -> JsonValue:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError("expected an integer")


def _as_number(value: JsonValue) -> JsonValue:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError("expected a number")


def _as_boolean(value: JsonValue) -> JsonValue:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("expected a boolean (true or false)")


COERCIONS: dict[str, Callable[[JsonValue], JsonValue]] = {
    "string": _as_string,
    "integer": _as_integer,
    "number": _as_number,
    "boolean": _as_boolean,
}


def _type_of(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def parameter_specs(parameters: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The parameters as `{name: {"type": ..., "default": ...}}`; ValueError names a bad one."""
    specs: dict[str, JsonValue] = {}
    for name, given in parameters.items():
        spec = dict(given) if isinstance(given, dict) else {"default": given}
        kind = spec.get("type") or _type_of(spec.get("default", ""))
        if not isinstance(kind, str) or kind not in COERCIONS:
            raise ValueError(f"parameter {name!r}: unknown type {kind!r}")
        normalized: dict[str, JsonValue] = {"type": kind}
        if spec.get("default") is not None:
            try:
                normalized["default"] = COERCIONS[kind](spec["default"])
            except ValueError as error:
                raise ValueError(f"parameter {name!r}: default: {error}") from None
        specs[name] = normalized
    return specs


def _resolve_one(name: str, spec: JsonValue, given: Mapping[str, JsonValue]) -> JsonValue:
    kind = spec.get("type", "string") if isinstance(spec, dict) else "string"
    coerce = COERCIONS.get(str(kind), _as_string)
    if name in given:
        try:
            return coerce(given[name])
        except ValueError as error:
            raise ValueError(f"{error}, got {given[name]!r}") from None
    if isinstance(spec, dict) and "default" in spec:
        return spec["default"]
    raise ValueError("required (it has no default)")


def resolve_parameters(
    specs: Mapping[str, JsonValue], given: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """The released parameters, typed, with defaults filled in; Invalid names each parameter
    that is unknown, missing (without a default) or of the wrong type."""
    violations = [
        Violation(f"/parameters/{name}", "not a parameter of this step")
        for name in sorted(set(given) - set(specs))
    ]
    resolved: dict[str, JsonValue] = {}
    for name, spec in specs.items():
        try:
            resolved[name] = _resolve_one(name, spec, given)
        except ValueError as error:
            violations.append(Violation(f"/parameters/{name}", str(error)))
    if violations:
        raise Invalid(violations)
    return resolved
