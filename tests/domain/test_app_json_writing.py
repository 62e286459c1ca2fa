"""Writing apps as Marathon 1.6–1.8 answers with them, and the marathon client reading them."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from conveyor.domain.app_json import app_from_json, app_to_json
from conveyor.domain.apps import AppDefinition
from conveyor.domain.documents import JsonObject, JsonValue

FIXTURES = Path("/work/shared/fixtures/marathon")
CREATED = datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def marathon_app_from_json(document: JsonObject) -> Any:
    """The `marathon` client's reading of an app (a copy: the client changes what it reads;
    it needs `collections.Iterable`, gone since Python 3.10)."""
    import collections
    import collections.abc

    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]
    from marathon.models import MarathonApp

    return MarathonApp.from_json(copy.deepcopy(document))


def fixture(name: str) -> JsonValue:
    with (FIXTURES / name).open() as handle:
        loaded: JsonValue = json.load(handle)
    return loaded


def created(document: JsonValue, *, group: str = "/") -> AppDefinition:
    return app_from_json(document, base=None, version=CREATED, group=group)


def test_written_app_has_marathons_shape() -> None:
    app = created({"id": "/web", "cmd": "serve", "instances": 2})
    assert app_to_json(app) == {
        "id": "/web",
        "cmd": "serve",
        "instances": 2,
        "cpus": 1.0,
        "mem": 128.0,
        "disk": 0.0,
        "gpus": 0,
        "executor": "",
        "backoffSeconds": 1,
        "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 3600,
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
        "labels": {},
        "version": "2024-03-01T12:00:00.123Z",
        "versionInfo": {
            "lastScalingAt": "2024-03-01T12:00:00.123Z",
            "lastConfigChangeAt": "2024-03-01T12:00:00.123Z",
        },
        "killSelection": "YOUNGEST_FIRST",
        "portDefinitions": [{"port": 0, "protocol": "tcp"}],
        "requirePorts": False,
    }


def test_health_checks_are_written_with_only_their_protocols_fields() -> None:
    app = created(
        {
            "id": "/web",
            "cmd": "x",
            "ports": [0, 0],
            "healthChecks": [
                {"protocol": "HTTP", "path": "/h", "portIndex": 1, "ignoreHttp1xx": True},
                {"protocol": "TCP", "port": 8080, "path": "/ignored"},
                {"protocol": "COMMAND", "command": {"value": "true"}, "portIndex": 0},
                {"protocol": "MESOS_HTTP", "path": "/m"},
            ],
        }
    )
    common = {
        "gracePeriodSeconds": 300,
        "intervalSeconds": 60,
        "timeoutSeconds": 20,
        "maxConsecutiveFailures": 3,
        "delaySeconds": 15,
    }
    assert app_to_json(app)["healthChecks"] == [
        {"protocol": "HTTP", "path": "/h", "portIndex": 1, "ignoreHttp1xx": True, **common},
        {"protocol": "TCP", "port": 8080, **common},
        {"protocol": "COMMAND", "command": {"value": "true"}, **common},
        {"protocol": "MESOS_HTTP", "path": "/m", "portIndex": 0, **common},
    ]


def test_timestamps_are_written_in_utc_with_a_trailing_z() -> None:
    moment = datetime(2024, 3, 1, 13, 0, 0, 5000, tzinfo=timezone(timedelta(hours=1)))
    app = app_from_json({"id": "/web", "cmd": "x"}, base=None, version=moment)
    document = app_to_json(app)
    assert document["version"] == "2024-03-01T12:00:00.005Z"
    assert document["versionInfo"] == {
        "lastScalingAt": "2024-03-01T12:00:00.005Z",
        "lastConfigChangeAt": "2024-03-01T12:00:00.005Z",
    }


def test_the_marathon_client_reads_written_apps() -> None:
    app = created(
        {
            "id": "/prod/web",
            "cmd": "serve",
            "portDefinitions": [{"port": 10001, "name": "http"}],
            "healthChecks": [{"protocol": "HTTP", "path": "/health"}],
            "secrets": {"db": {"source": "/db"}},
        }
    )
    client_app = marathon_app_from_json(app_to_json(app))
    assert client_app.id == "/prod/web"
    assert client_app.version_info.last_config_change_at == CREATED
    assert client_app.port_definitions[0].port == 10001
    assert client_app.health_checks[0].path == "/health"


def test_the_marathon_client_reads_the_documented_app_fixture() -> None:
    document = fixture("app.json")
    assert isinstance(document, dict)
    del document["tty"]  # Marathon 1.9+; the client rejects it
    del document["args"]  # Marathon itself rejects `cmd` together with `args`
    marathon_app_from_json(document)
    app = created(document)
    written = app_to_json(app)
    client_app = marathon_app_from_json(written)
    assert client_app.container.docker.image == "mesosphere:marathon/latest"
    assert client_app.env["PASSWORD"] == {"secret": "/db/password"}
    assert created(written) == app


def test_app_created_through_the_fixture_examples_round_trips() -> None:
    examples = fixture("apps_create.json")
    assert isinstance(examples, list)
    for example in examples:
        app = created(example)
        assert created(json.loads(json.dumps(app_to_json(app)))) == app
