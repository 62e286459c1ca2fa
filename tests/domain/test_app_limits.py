"""The sizes an app definition may have: each limit is a 422 naming the field, just past it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.domain import limits
from conveyor.domain.app_json import app_from_json
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid

NOW = datetime(2024, 3, 1, tzinfo=UTC)


def app(**fields: JsonValue) -> JsonObject:
    return {"id": "/web", "cmd": "sleep 600", **fields}


def problems(document: JsonObject) -> list[tuple[str, str]]:
    with pytest.raises(Invalid) as raised:
        app_from_json(document, base=None, version=NOW)
    return [(violation.path, violation.error) for violation in raised.value.violations]


def accepted(document: JsonObject) -> None:
    app_from_json(document, base=None, version=NOW)


def env_of(count: int, value: str = "v") -> JsonObject:
    return {f"K{index}": value for index in range(count)}


@pytest.mark.parametrize(
    ("field", "limit", "item"),
    [
        ("args", limits.MAX_ARGS, "a"),
        ("constraints", limits.MAX_CONSTRAINTS, ["hostname", "UNIQUE"]),
        ("dependencies", limits.MAX_DEPENDENCIES, "/other"),
        ("uris", limits.MAX_URIS, "http://example.org/a.tgz"),
        ("healthChecks", limits.MAX_HEALTH_CHECKS, {"protocol": "COMMAND", "command": {}}),
    ],
)
def test_a_collection_past_its_count_is_refused(field: str, limit: int, item: JsonValue) -> None:
    document = app(**{field: [item] * (limit + 1)})
    if field == "args":
        document.pop("cmd")
    assert (f"/{field}", f"must have at most {limit} entries") in problems(document)


def test_ports_past_their_count_are_refused() -> None:
    document = app(portDefinitions=[{"port": 0}] * (limits.MAX_PORTS + 1))
    expected = ("/portDefinitions", f"must have at most {limits.MAX_PORTS} entries")
    assert expected in problems(document)
    accepted(app(portDefinitions=[{"port": 0}] * limits.MAX_PORTS))


def test_env_within_its_limits_is_accepted() -> None:
    accepted(app(env=env_of(limits.MAX_ENV_VARIABLES)))


def test_too_many_variables_are_refused() -> None:
    expected = ("/env", f"must have at most {limits.MAX_ENV_VARIABLES} entries")
    assert expected in problems(app(env=env_of(limits.MAX_ENV_VARIABLES + 1)))


def test_a_variable_too_long_is_refused_by_name() -> None:
    value = "x" * (limits.MAX_ENV_VALUE_BYTES + 1)
    found = problems(app(env={"BIG": value}))
    assert ("/env/BIG", f"must be at most {limits.MAX_ENV_VALUE_BYTES} bytes long") in found


def test_variables_too_big_together_are_refused() -> None:
    value = "x" * limits.MAX_ENV_VALUE_BYTES
    count = limits.MAX_ENV_TOTAL_BYTES // limits.MAX_ENV_VALUE_BYTES + 1
    assert any(path == "/env" for path, _ in problems(app(env=env_of(count, value))))


@pytest.mark.parametrize("name", ["A=B", "=", ""])
def test_a_variable_name_no_process_can_take_is_refused(name: str) -> None:
    assert problems(app(env={name: "v"}))


def test_a_label_value_too_long_is_refused_by_key() -> None:
    value = "x" * (limits.MAX_LABEL_VALUE_BYTES + 1)
    expected = ("/labels/big", f"must be at most {limits.MAX_LABEL_VALUE_BYTES} bytes long")
    assert expected in problems(app(labels={"big": value}))


def test_too_many_labels_are_refused() -> None:
    labels: JsonObject = {f"k{index}": "v" for index in range(limits.MAX_LABELS + 1)}
    assert ("/labels", f"must have at most {limits.MAX_LABELS} entries") in problems(
        app(labels=labels)
    )


def test_a_command_too_long_is_refused() -> None:
    cmd = "x" * (limits.MAX_CMD_BYTES + 1)
    assert ("/cmd", f"must be at most {limits.MAX_CMD_BYTES} bytes long") in problems(app(cmd=cmd))


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"cmd": "sleep\x00 1"}, "/cmd"),
        ({"env": {"A": "\x00"}}, "/env/A"),
        ({"labels": {"team": "a\x00"}}, "/labels/team"),
        ({"args": ["sleep", "\x00"], "cmd": None}, "/args(1)"),
        ({"healthChecks": [{"path": "/\x00"}]}, "/healthChecks(0)/path"),
    ],
)
def test_a_nul_anywhere_is_refused_at_its_path(fields: JsonObject, path: str) -> None:
    assert (path, "must not contain NUL characters") in problems(app(**fields))


@pytest.mark.parametrize("instances", [limits.MAX_INSTANCES + 1, 1e30, 2**40])
def test_an_instance_count_past_the_limit_is_refused(instances: JsonValue) -> None:
    assert [path for path, _ in problems(app(instances=instances))] == ["/instances"]


def test_the_largest_instance_count_is_accepted() -> None:
    accepted(app(instances=limits.MAX_INSTANCES))
