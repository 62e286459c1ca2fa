"""Properties of reading and writing app definitions: whatever comes in, the reader answers with
an app or an Invalid/MalformedInput; and a written app reads back as the same app."""

from __future__ import annotations

import collections
import collections.abc
import copy
import json
import warnings
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck as Health
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.domain.app_json import APP_DOCUMENT_KEYS, app_from_json, app_to_json
from conveyor.domain.apps import AppDefinition
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid, MalformedInput
from conveyor.domain.limits import MAX_INSTANCES

NOW = datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[Health.too_slow])

# --- arbitrary and wrong-typed documents --------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from([10**400, -(2**63), 2**31, 1e308, -0.0, 0.5])
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "Infinity", "-1", "1e999", "", "/", "..", "HTTP", "DOCKER"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)


def objects_with(keys: list[str]) -> st.SearchStrategy[JsonObject]:
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys))


health_check_like = objects_with(
    [
        "protocol",
        "path",
        "port",
        "portIndex",
        "command",
        "gracePeriodSeconds",
        "intervalSeconds",
        "timeoutSeconds",
        "maxConsecutiveFailures",
        "delaySeconds",
        "ignoreHttp1xx",
    ]
) | st.fixed_dictionaries(
    {"protocol": st.sampled_from(["HTTP", "TCP", "COMMAND", "MESOS_HTTP", "mesos_tcp", "x"])},
    optional={"command": st.just({"value": "true"}) | json_values, "portIndex": json_values},
)
port_definition_like = objects_with(["port", "protocol", "name", "labels"])
container_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["DOCKER", "MESOS", "docker", "RKT"]) | json_values,
        "docker": objects_with(["image", "network", "portMappings"]) | json_values,
        "appc": objects_with(["image"]),
        "portMappings": st.lists(json_values, max_size=3) | json_values,
    },
)
constraint_like = st.lists(
    st.sampled_from(["hostname", "rack", "UNIQUE", "LIKE", "MAX_PER", "IS", "(", "3", ".*"])
    | json_values,
    max_size=4,
)
structured = {
    "id": st.sampled_from(["/web", "web", "../x", "/", "", "/A", "/a/tasks"]) | json_values,
    "cmd": st.sampled_from(["serve", ""]) | json_values,
    "healthChecks": st.lists(health_check_like | json_values, max_size=3) | json_values,
    "portDefinitions": st.lists(port_definition_like | json_values, max_size=3) | json_values,
    "ports": st.lists(st.integers(-5, 70000) | json_values, max_size=3) | json_values,
    "container": container_like | json_values,
    "constraints": st.lists(constraint_like | json_values, max_size=3) | json_values,
    "upgradeStrategy": objects_with(["minimumHealthCapacity", "maximumOverCapacity"]),
    "env": st.dictionaries(st.text(max_size=5), objects_with(["secret"]) | json_values),
    "fetch": st.lists(objects_with(["uri", "extract"]) | json_values, max_size=3),
    "secrets": st.dictionaries(st.text(max_size=5), objects_with(["source"]) | json_values),
}
app_like_documents = st.fixed_dictionaries(
    {},
    optional={key: structured.get(key, json_values) for key in sorted(APP_DOCUMENT_KEYS)},
)


def read_or_reject(document: JsonValue, base: AppDefinition | None) -> AppDefinition | None:
    """Read `document`; None if it is rejected the way the reader may reject input."""
    try:
        app = app_from_json(document, base=base, version=NOW)
    except Invalid as invalid:
        assert invalid.violations
        assert all(v.path.startswith("/") and v.error for v in invalid.violations)
        return None
    except MalformedInput:
        assert not isinstance(document, dict)
        return None
    assert isinstance(app, AppDefinition)
    return app


@FUZZ
@given(json_values)
def test_arbitrary_json_gives_an_app_or_a_rejection(document: JsonValue) -> None:
    read_or_reject(document, base=None)


@FUZZ
@given(app_like_documents)
def test_app_like_documents_with_wrong_types_give_an_app_or_a_rejection(
    document: JsonObject,
) -> None:
    snapshot = copy.deepcopy(document)
    app = read_or_reject(document, base=None)
    assert document == snapshot  # the reader changes nothing it reads
    if app is not None:
        assert read_or_reject(json.loads(json.dumps(app_to_json(app))), base=None) == app


@FUZZ
@given(app_like_documents)
def test_changes_to_an_existing_app_give_an_app_or_a_rejection(document: JsonObject) -> None:
    base = app_from_json(
        {"id": "/prod/web", "cmd": "serve", "ports": [0, 0]}, base=None, version=NOW
    )
    read_or_reject(document, base=base)


# --- valid documents: the round trip ------------------------------------------------------

segments = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True).filter(
    lambda segment: segment not in ("restart", "tasks", "versions")
)
app_ids = st.lists(segments, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
texts = st.text(st.characters(exclude_characters="\x00"), max_size=12)
"""Text a valid definition may hold: anything but NUL (no process can take one)."""
labels = st.dictionaries(texts, texts, max_size=3)
fractions = st.floats(0, 1)
non_negative = st.floats(0, 1e6, allow_subnormal=False)
seconds = st.integers(0, 2**31 - 1)


@st.composite
def port_definitions(draw: st.DrawFn) -> list[JsonValue]:
    ports = draw(st.lists(st.integers(1, 65535), unique=True, max_size=3))
    zeros = draw(st.integers(0, 2))
    names = draw(st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), unique=True, max_size=5))
    definitions: list[JsonValue] = []
    for index, port in enumerate([0] * zeros + ports):
        definition: JsonObject = {"port": port}
        definition["protocol"] = draw(st.sampled_from(["tcp", "udp", "tcp,udp"]))
        if index < len(names):
            definition["name"] = names[index]
        definition["labels"] = draw(labels)
        definitions.append(definition)
    return definitions


@st.composite
def health_checks(draw: st.DrawFn, port_count: int) -> list[JsonValue]:
    protocols = ["HTTP", "HTTPS", "TCP", "COMMAND"]
    chosen = draw(st.lists(st.sampled_from(protocols), max_size=3))
    chosen += draw(
        st.lists(st.sampled_from(["MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"]), max_size=1)
    )
    checks: list[JsonValue] = []
    for protocol in chosen:
        check: JsonObject = {
            "protocol": protocol,
            "gracePeriodSeconds": draw(seconds),
            "intervalSeconds": draw(seconds),
            "timeoutSeconds": draw(seconds),
            "maxConsecutiveFailures": draw(seconds),
            "delaySeconds": draw(seconds),
        }
        if protocol == "COMMAND":
            check["command"] = {"value": draw(texts)}
        elif port_count and draw(st.booleans()):
            check["portIndex"] = draw(st.integers(0, port_count - 1))
        else:
            check["port"] = draw(st.integers(0, 65535))
        if protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS") and draw(st.booleans()):
            check["path"] = "/" + draw(texts)
        if protocol in ("HTTP", "HTTPS"):
            check["ignoreHttp1xx"] = draw(st.booleans())
        checks.append(check)
    return checks


constraints = st.lists(
    st.sampled_from(
        [
            ["hostname", "UNIQUE"],
            ["rack", "CLUSTER", "a"],
            ["rack", "GROUP_BY"],
            ["rack", "GROUP_BY", "3"],
            ["rack", "MAX_PER", "2"],
            ["hostname", "LIKE", "srv.*"],
            ["hostname", "UNLIKE", "db[0-9]"],
            ["zone", "IS", "a"],
        ]
    ),
    max_size=3,
)
env = st.dictionaries(
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True),
    texts | st.builds(lambda name: {"secret": name}, texts),
    max_size=3,
)
passthrough = st.fixed_dictionaries(
    {},
    optional={
        "secrets": st.dictionaries(texts, st.builds(lambda s: {"source": s}, texts), max_size=2),
        "acceptedResourceRoles": st.lists(texts, max_size=2),
        "storeUrls": st.lists(texts, max_size=2),
        "residency": st.just({"taskLostBehavior": "WAIT_FOREVER"}),
        "unreachableStrategy": st.just("disabled")
        | st.just({"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}),
        "networks": st.just([{"mode": "host"}]),
        "readinessChecks": st.just([{"name": "ready", "path": "/", "portName": "http"}]),
    },
)
artifacts = st.fixed_dictionaries({}, optional={"uris": st.lists(texts, max_size=2)}) | (
    st.fixed_dictionaries(
        {},
        optional={"fetch": st.lists(st.builds(lambda u: {"uri": u, "cache": True}, texts))},
    )
)


@st.composite
def valid_documents(draw: st.DrawFn) -> JsonObject:
    ports = draw(port_definitions())
    document: JsonObject = {
        "id": draw(app_ids),
        "instances": draw(st.integers(0, MAX_INSTANCES)),
        "cpus": draw(non_negative),
        "mem": draw(non_negative | st.integers(0, 10**6)),
        "disk": draw(non_negative),
        "gpus": draw(st.integers(0, 8)),
        "executor": draw(st.sampled_from(["", "//cmd"])),
        "constraints": draw(constraints),
        "portDefinitions": ports,
        "requirePorts": draw(st.booleans()),
        "backoffSeconds": draw(seconds),
        "backoffFactor": draw(st.floats(1, 10)),
        "maxLaunchDelaySeconds": draw(seconds),
        "healthChecks": draw(health_checks(len(ports))),
        "dependencies": draw(st.lists(app_ids, max_size=2)),
        "upgradeStrategy": {
            "minimumHealthCapacity": draw(fractions),
            "maximumOverCapacity": draw(fractions),
        },
        "labels": draw(labels),
        "env": draw(env),
        "killSelection": draw(st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"])),
        **draw(passthrough),
        **draw(artifacts),
    }
    command = draw(st.sampled_from(["cmd", "args", "container"]))
    if command == "cmd":
        document["cmd"] = draw(texts.filter(bool))
    elif command == "args":
        document["args"] = draw(st.lists(texts, min_size=1, max_size=3))
    else:
        kind = "MESOS" if document["gpus"] else draw(st.sampled_from(["DOCKER", "MESOS"]))
        document["container"] = {"type": kind, "docker": {"image": draw(texts.filter(bool))}}
    if draw(st.booleans()):
        document["taskKillGracePeriodSeconds"] = draw(seconds)
    if draw(st.booleans()):
        document["user"] = draw(texts)
    return document


def marathon_client_reads(document: JsonObject) -> None:
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]
    from marathon.models import MarathonApp

    with warnings.catch_warnings():
        # the client warns (via the deprecated Logger.warn) about the {"value": ...} command
        # form of COMMAND health checks, which is the form Marathon itself answers with
        warnings.simplefilter("ignore", DeprecationWarning)
        client_app: Any = MarathonApp.from_json(copy.deepcopy(document))
    assert client_app.id == document["id"]


@settings(max_examples=200, deadline=None)
@given(valid_documents())
def test_written_app_reads_back_as_the_same_app(document: JsonObject) -> None:
    app = app_from_json(document, base=None, version=NOW)
    written = json.loads(json.dumps(app_to_json(app)))
    assert app_from_json(written, base=None, version=app.version) == app
    marathon_client_reads(written)


@settings(max_examples=100, deadline=None)
@given(valid_documents())
def test_empty_change_keeps_the_app(document: JsonObject) -> None:
    app = app_from_json(document, base=None, version=NOW)
    later = datetime(2025, 1, 1, tzinfo=UTC)
    unchanged = app_from_json({}, base=app, version=later)
    assert unchanged.version == later
    assert unchanged.version_info == app.version_info
    assert app_from_json(app_to_json(app), base=app, version=later) == unchanged
