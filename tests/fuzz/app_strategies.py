"""Hypothesis strategies for Marathon app definitions and groups: valid-looking ones (ids from
Marathon's segment pattern, commands, resources, env, labels, health checks, constraints, ports,
upgrade strategies, ...) and the same with hostile mutations.

A definition the server may accept can start tasks, so `made_harmless` is applied to every app
before it is sent: unless it asks for exactly zero instances, its command is `sleep 600`, it
fetches nothing, runs no container and no command health check, and asks for one instance.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.fuzz.json_text import Pairs, Raw
from tests.fuzz.referee import LIVE_APP_ID, SEED_APPS
from tests.fuzz.strategies import (
    Long,
    app_ids,
    harmless_counts,
    hostile_scalars,
    hostile_values,
    huge_numbers,
    one_in,
    printable,
    raw_tokens,
    segments,
    wrong_types,
)

HARMLESS_CMD = "sleep 600"
SEED_APP_IDS = tuple(app["id"] for app in SEED_APPS if app["id"] != LIVE_APP_ID)
"""The seed's apps without tasks: the ones fuzzed changes are sent to."""


# --- app definitions ------------------------------------------------------------------------

env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)
label_keys = st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True)
hostile_keys = st.one_of(
    st.sampled_from(["", "A=B", "=", "A\x00B", "\x00", " ", "\u00e9t\u00e9", "\U0001f600"]),
    st.integers(256, 5_000).map(lambda n: Long("K" * n)),
    printable,
    st.sampled_from([r'"\ud800"', r'"K\udfff"']).map(Raw),
)

health_checks = st.fixed_dictionaries(
    {"protocol": st.sampled_from(["HTTP", "TCP", "MESOS_HTTP", "MESOS_TCP"])},
    optional={
        "path": st.sampled_from(["/", "/health", "/ping?x=1"]),
        "portIndex": st.integers(0, 1),
        "gracePeriodSeconds": st.integers(0, 300),
        "intervalSeconds": st.integers(1, 60),
        "timeoutSeconds": st.integers(1, 20),
        "maxConsecutiveFailures": st.integers(0, 5),
        "delaySeconds": st.integers(0, 15),
        "ignoreHttp1xx": st.booleans(),
    },
)
constraints = st.one_of(
    st.tuples(st.sampled_from(["hostname", "rack"]), st.just("UNIQUE")).map(list),
    st.tuples(
        st.sampled_from(["hostname", "rack"]),
        st.sampled_from(["CLUSTER", "LIKE", "UNLIKE", "GROUP_BY", "MAX_PER", "IS"]),
        st.sampled_from(["a", "1", "r[0-9]+", "(((", "2"]),
    ).map(list),
)
port_definitions = st.fixed_dictionaries(
    {"port": st.integers(0, 0)},
    optional={
        "protocol": st.sampled_from(["tcp", "udp", "udp,tcp"]),
        "name": st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
        "labels": st.dictionaries(label_keys, st.text(max_size=8), max_size=2),
    },
)
upgrade_strategies = st.fixed_dictionaries(
    {},
    optional={
        "minimumHealthCapacity": st.floats(0, 1),
        "maximumOverCapacity": st.floats(0, 1),
    },
)
containers = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["DOCKER", "MESOS"]),
        "docker": st.fixed_dictionaries({"image": st.sampled_from(["busybox", "alpine:3"])}),
    }
)

APP_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "args": st.lists(printable, min_size=1, max_size=3),
    "user": st.sampled_from(["nobody", "root", ""]),
    "cpus": st.floats(0.01, 4),
    "mem": st.integers(1, 512),
    "disk": st.integers(0, 1024),
    "gpus": st.integers(0, 0),
    "env": st.dictionaries(env_names, printable, max_size=4),
    "labels": st.dictionaries(label_keys, printable, max_size=4),
    "healthChecks": st.lists(health_checks, max_size=2),
    "constraints": st.lists(constraints, max_size=2),
    "portDefinitions": st.lists(port_definitions, max_size=2),
    "ports": st.lists(st.integers(0, 0), max_size=2),
    "requirePorts": st.booleans(),
    "upgradeStrategy": upgrade_strategies,
    "backoffSeconds": st.integers(0, 3600),
    "backoffFactor": st.floats(1, 5),
    "maxLaunchDelaySeconds": st.integers(0, 3600),
    "taskKillGracePeriodSeconds": st.integers(0, 30),
    "killSelection": st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
    "dependencies": st.lists(app_ids, max_size=2),
    "container": containers,
    "uris": st.lists(st.sampled_from(["file:///nonexistent/a.tgz"]), max_size=1),
    "version": st.sampled_from(["2026-01-01T00:00:00.000Z", "not a time"]),
    "unknownField": hostile_values,
}
"""Every field of a Marathon app definition a client sends, with values a client would send."""


@st.composite
def app_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-looking app: id, command and zero instances, plus some of the other fields."""
    document: dict[str, Any] = {
        "id": draw(app_ids),
        "cmd": HARMLESS_CMD,
        "instances": draw(st.sampled_from([0, 0, 0, 1])),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(APP_FIELDS)), max_size=5, unique=True))
    for name in chosen:
        document[name] = draw(APP_FIELDS[name])
    return document


HOSTILE_IDS = st.one_of(
    st.sampled_from(
        ["", "/", "//", "/..", "/fuzz/../..", "/fuzz/UPPER", "/fuzz/under_score", "/fuzz/-a"]
    ),
    st.sampled_from(["/fuzz/restart", "/fuzz/tasks", "/fuzz/a.b.c", "/fuzz/./x", "relative/id"]),
    st.integers(17, 3000).map(lambda n: Long("/fuzz" + "/s" * n)),
    st.integers(64, 6000).map(lambda n: Long("/fuzz/" + "a" * n)),
    printable.map(lambda text: "/fuzz/" + text),
)


@st.composite
def hostile_app_mutations(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """`document` with one to three hostile changes (or, rarely, something else entirely)."""
    if one_in(draw, 16):
        return draw(hostile_values)
    mutated: dict[str, Any] = dict(document)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        mutated = kind(draw, mutated)
    return mutated


def _field_value(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    name = draw(st.sampled_from(["id", "cmd", "instances", *sorted(APP_FIELDS)]))
    return {**document, name: draw(hostile_values)}


def _hostile_id(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "id": draw(HOSTILE_IDS)}


def _map_entry(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """A hostile key or value in env or labels."""
    field = draw(st.sampled_from(["env", "labels"]))
    entries = dict(document.get(field) or {}) if isinstance(document.get(field), dict) else {}
    key = draw(st.one_of(env_names, hostile_keys))
    value = draw(st.one_of(printable, hostile_scalars))
    if isinstance(key, Raw):
        return {**document, field: Pairs(((key, value), *entries.items()))}
    entries[key] = value
    return {**document, field: entries}


def _nested_field(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """A hostile value one level inside a structured field."""
    field = draw(st.sampled_from(["healthChecks", "portDefinitions", "upgradeStrategy"]))
    key = draw(
        st.sampled_from(
            ["protocol", "path", "port", "portIndex", "intervalSeconds", "minimumHealthCapacity"]
        )
    )
    inner = {key: draw(hostile_values)}
    return {**document, field: inner if field == "upgradeStrategy" else [inner]}


def _many(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """A long list or map where a short one is expected (within the request size limit)."""
    field = draw(
        st.sampled_from(
            ["args", "env", "labels", "healthChecks", "constraints", "portDefinitions", "uris"]
        )
    )
    count = draw(st.sampled_from([15, 16, 17, 33, 65, 129, 257, 513]))
    items: dict[str, Any] = {
        "args": ["a"] * count,
        "env": {f"V{i}": "v" for i in range(count)},
        "labels": {f"l{i}": "v" for i in range(count)},
        "healthChecks": [{"protocol": "TCP"}] * count,
        "constraints": [["hostname", "UNIQUE"]] * count,
        "portDefinitions": [{"port": 0}] * count,
        "uris": ["file:///nonexistent/a"] * count,
    }
    return {**document, field: items[field]}


def _unknown_field(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    name = draw(st.one_of(st.sampled_from(["tasks", "deployments", "__proto__", "Id"]), printable))
    return {**document, name: draw(hostile_values)}


def _missing(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    name = draw(st.sampled_from(["id", "cmd"]))
    return {key: value for key, value in document.items() if key != name}


def _duplicate_key(draw: st.DrawFn, document: dict[str, Any]) -> Pairs:
    """One of the document's keys written twice, both times with a harmless value."""
    name = draw(st.sampled_from(sorted(document) or ["id"]))
    value = document.get(name)
    return Pairs(((name, value), *document.items()))


MUTATIONS = (
    _field_value,
    _hostile_id,
    _map_entry,
    _nested_field,
    _many,
    _unknown_field,
    _missing,
)


@st.composite
def fuzzed_apps(draw: st.DrawFn) -> Any:
    """Mostly hostile app definitions; sometimes a valid one, sometimes one with a key twice."""
    document = draw(app_definitions())
    choice = draw(st.sampled_from(["hostile"] * 6 + ["valid", "valid", "duplicate"]))
    if choice == "valid":
        return made_harmless(document)
    if choice == "duplicate":
        return _duplicate_key(draw, made_harmless(document))
    return made_harmless(draw(hostile_app_mutations(document)))


def made_harmless(document: Any) -> Any:
    """An app definition that may start at most one `sleep 600` and fetch nothing, unless it
    asks for exactly zero instances (see the module's docstring)."""
    if not isinstance(document, dict):
        return document
    instances = document.get("instances")
    if type(instances) is int and instances == 0:
        return document
    safe = {
        key: value
        for key, value in document.items()
        if key not in ("args", "container", "uris", "fetch", "healthChecks")
    }
    safe["cmd"] = HARMLESS_CMD
    if isinstance(instances, int | float) and not isinstance(instances, bool):
        refused = instances < 0 or instances >= 2**31 or instances != int(instances)
        safe["instances"] = instances if refused else 1
    return safe


valid_apps = app_definitions().map(made_harmless)


# --- groups ---------------------------------------------------------------------------------


def _relative(app: Any) -> Any:
    if isinstance(app, dict) and isinstance(app.get("id"), str):
        return {**app, "id": app["id"].rsplit("/", 1)[-1] or app["id"]}
    return app


@st.composite
def valid_groups(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """A group body a client would send: apps with relative ids, nested groups, dependencies."""
    group: dict[str, Any] = {"id": draw(segments) if depth else "/fuzz/g/" + draw(segments)}
    if draw(st.booleans()):
        group["apps"] = [_relative(app) for app in draw(st.lists(valid_apps, max_size=2))]
    if depth < 2 and draw(st.booleans()):
        group["groups"] = draw(st.lists(valid_groups(depth + 1), max_size=2))
    if draw(st.booleans()):
        group["dependencies"] = draw(st.lists(st.sampled_from(["/fuzz/seed", "../x"]), max_size=2))
    return group


GROUP_MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(HOSTILE_IDS, hostile_scalars),
    "apps": st.one_of(st.lists(fuzzed_apps().map(_relative), max_size=2), hostile_values),
    "groups": st.one_of(st.lists(st.fixed_dictionaries({"id": HOSTILE_IDS}), max_size=2)),
    "dependencies": st.one_of(st.lists(st.one_of(HOSTILE_IDS, hostile_scalars), max_size=2)),
    "scaleBy": st.one_of(huge_numbers, wrong_types, raw_tokens, harmless_counts, st.floats(-2, 2)),
    "enforceRole": hostile_values,
}


@st.composite
def fuzzed_groups(draw: st.DrawFn) -> Any:
    """A valid-looking group body with one or two hostile fields (or none)."""
    group: Any = draw(valid_groups())
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(sorted(GROUP_MUTATIONS)))
        group = {**group, field: draw(GROUP_MUTATIONS[field])}
    if one_in(draw, 16):
        return draw(hostile_values)
    return group
