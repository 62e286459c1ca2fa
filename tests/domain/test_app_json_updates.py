"""Changes to an existing app (Marathon's PUT): absent fields keep their values, version
stamps, telling scales and rollbacks apart, and assigning service ports."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.domain.app_json import (
    UpdateKind,
    app_from_json,
    app_to_json,
    assign_service_ports,
    classify_update,
)
from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.documents import JsonValue
from conveyor.domain.errors import Invalid

FIXTURES = Path("/work/shared/fixtures/marathon")
CREATED = datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
LATER = CREATED + timedelta(minutes=5)


def fixture(name: str) -> JsonValue:
    with (FIXTURES / name).open() as handle:
        loaded: JsonValue = json.load(handle)
    return loaded


def created(document: JsonValue, *, group: str = "/") -> AppDefinition:
    return app_from_json(document, base=None, version=CREATED, group=group)


def base_app() -> AppDefinition:
    return created(
        {
            "id": "/prod/web",
            "cmd": "serve",
            "instances": 2,
            "cpus": 0.5,
            "labels": {"team": "a"},
            "portDefinitions": [{"port": 10001, "name": "http"}],
            "healthChecks": [{"protocol": "HTTP", "path": "/health"}],
            "secrets": {"db": {"source": "/db"}},
        }
    )


def test_absent_fields_keep_the_base_values() -> None:
    base = base_app()
    app = app_from_json({"mem": 256}, base=base, version=LATER)
    assert app.mem == 256.0
    assert replace(app, mem=base.mem, version=base.version, version_info=base.version_info) == base


def test_fields_absent_from_a_replacement_take_marathons_defaults() -> None:
    app = app_from_json({"id": "/prod/web", "cmd": "serve"}, base=None, version=LATER)
    assert (app.instances, app.cpus, app.labels, app.passthrough) == (1, 1.0, {}, {})


def test_args_replace_the_base_cmd() -> None:
    app = app_from_json({"args": ["serve", "-v"]}, base=base_app(), version=LATER)
    assert (app.cmd, app.args) == (None, ("serve", "-v"))


def test_empty_secrets_clear_the_base_secrets() -> None:
    app = app_from_json({"secrets": {}}, base=base_app(), version=LATER)
    assert "secrets" not in app.passthrough


def test_new_app_has_both_version_stamps() -> None:
    app = created({"id": "/web", "cmd": "x"})
    assert app.version == CREATED
    assert app.version_info == VersionInfo(CREATED, CREATED)


def test_change_of_instances_only_stamps_last_scaling() -> None:
    app = app_from_json({"id": "/prod/web", "instances": 5}, base=base_app(), version=LATER)
    assert app.instances == 5
    assert app.version == LATER
    assert app.version_info == VersionInfo(last_scaling_at=LATER, last_config_change_at=CREATED)


def test_config_change_stamps_both_times() -> None:
    app = app_from_json({"cmd": "serve --fast", "instances": 5}, base=base_app(), version=LATER)
    assert app.version_info == VersionInfo(LATER, LATER)


def test_unchanged_app_keeps_the_base_version_info() -> None:
    base = base_app()
    app = app_from_json(app_to_json(base), base=base, version=LATER)
    assert app.version == LATER
    assert app.version_info == base.version_info
    assert replace(app, version=base.version) == base


def test_body_with_only_instances_is_a_scale() -> None:
    assert classify_update({"instances": 3}) is UpdateKind.SCALE
    assert classify_update({"id": "/foo", "instances": 2}) is UpdateKind.SCALE
    assert classify_update(fixture("app_patch.json")) is UpdateKind.SCALE
    assert classify_update({"instances": 3, "tasksRunning": 1}) is UpdateKind.SCALE


def test_body_with_only_version_is_a_rollback() -> None:
    assert classify_update({"version": "2024-03-01T12:00:00.123Z"}) is UpdateKind.ROLLBACK
    assert classify_update({"id": "/a", "version": "2024-03-01T12:00:00Z"}) is UpdateKind.ROLLBACK


def test_other_bodies_are_changes() -> None:
    assert classify_update({"instances": 3, "cmd": "x"}) is UpdateKind.CHANGE
    assert classify_update({}) is UpdateKind.CHANGE
    assert classify_update({"id": "/a"}) is UpdateKind.CHANGE
    assert classify_update({"instances": 3, "version": None}) is UpdateKind.SCALE
    assert classify_update([]) is UpdateKind.CHANGE


def test_version_with_other_fields_is_rejected() -> None:
    with pytest.raises(Invalid) as raised:
        classify_update({"version": "2024-03-01T12:00:00Z", "instances": 2})
    assert [(v.path, v.error) for v in raised.value.violations] == [
        ("/", "The 'version' field may only be combined with the 'id' field.")
    ]


def test_version_that_is_not_a_string_is_rejected() -> None:
    with pytest.raises(Invalid) as raised:
        classify_update({"version": 5})
    assert [(v.path, v.error) for v in raised.value.violations] == [
        ("/version", "error.expected.jsstring")
    ]


def test_zero_ports_get_the_lowest_free_service_ports() -> None:
    app = created({"id": "/web", "cmd": "x", "ports": [0, 10005, 0, 0]})
    assigned = assign_service_ports(app, used={10000, 10002})
    assert assigned.service_ports == (10001, 10005, 10003, 10004)
    assert replace(assigned, port_definitions=app.port_definitions) == app


def test_service_port_range_is_half_open() -> None:
    app = created({"id": "/web", "cmd": "x", "ports": [0, 0]})
    assert assign_service_ports(app, used=set(), first=500, last=502).service_ports == (500, 501)


def test_exhausted_service_port_range_is_invalid() -> None:
    app = created({"id": "/web", "cmd": "x", "ports": [0, 0]})
    with pytest.raises(Invalid) as raised:
        assign_service_ports(app, used={500}, first=500, last=502)
    [violation] = raised.value.violations
    assert violation.path == "/portDefinitions"
    assert violation.error == "All ports in the range [500-502) are already used"
