"""Apps in Marathon's JSON: reading the body of `POST /v2/apps` or `PUT /v2/apps/{id}` into an
`AppDefinition`, and writing one back as Marathon 1.6–1.8 does.

Reading validates in Marathon's manner and in its two stages: first every field is read for its
JSON type and range (Marathon's "Invalid JSON"); if all read, the rules that need the whole app
are checked (Marathon's "Object is not valid"). Either stage raises one `Invalid` listing every
problem it found, each a `Violation(path, error)` with Marathon's path and message. A document
that is not a JSON object raises `MalformedInput` (Marathon answers 400 to a body it cannot
read as an app at all).

`null` counts as absent. With a `base` (Marathon's PUT), absent fields keep the base's values;
`cmd`/`args`, `ports`/`portDefinitions` and `uris`/`fetch` each count as one field.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from conveyor.domain.app_limits import size_violations
from conveyor.domain.app_rules import (
    addressable_port_count,
    app_violations,
    assign_service_ports,
    read_constraints,
    read_env,
    read_port_definitions,
)
from conveyor.domain.apps import (
    AppDefinition,
    Constraint,
    HealthCheck,
    KillSelection,
    PortDefinition,
    UpgradeStrategy,
    VersionInfo,
    group_of,
    is_config_change,
)
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid, MalformedInput, Violation
from conveyor.domain.health_check_json import (
    health_check_to_json,
    read_health_check,
    with_default_port_index,
)
from conveyor.domain.json_fields import (
    FieldReader,
    Violations,
    read_boolean,
    read_integer,
    read_list,
    read_object,
    read_string,
    read_string_map,
    read_strings,
)
from conveyor.domain.passthrough import (
    PASSTHROUGH_KEYS,
    container_image,
    read_artifacts,
    read_passthrough,
    uri_artifact,
)
from conveyor.domain.paths import normalize_path, path_violations

__all__ = [
    "APP_DOCUMENT_KEYS",
    "UpdateKind",
    "app_from_json",
    "app_to_json",
    "assign_service_ports",
    "classify_update",
    "health_check_to_json",
]

APP_DOCUMENT_KEYS = frozenset(
    {
        "id", "cmd", "args", "user", "env", "instances", "cpus", "mem", "disk", "gpus",
        "executor", "constraints", "uris", "ports", "portDefinitions", "requirePorts",
        "backoffSeconds", "backoffFactor", "maxLaunchDelaySeconds", "healthChecks",
        "dependencies", "upgradeStrategy", "labels", "taskKillGracePeriodSeconds",
        "killSelection", "version", *PASSTHROUGH_KEYS,
    }
)  # fmt: skip
"""The keys of an app definition Conveyor reads (others, e.g. `tasks`, are ignored)."""

VERSION_ONLY_WITH_ID = "The 'version' field may only be combined with the 'id' field."


class UpdateKind(StrEnum):
    """What a PUT body asks for."""

    SCALE = "SCALE"
    """Only `instances` (and maybe `id`): change the instance count."""
    ROLLBACK = "ROLLBACK"
    """Only `version` (and maybe `id`): go back to that version's definition."""
    CHANGE = "CHANGE"
    """Anything else: a new definition."""


def classify_update(document: JsonValue) -> UpdateKind:
    """Tell a scale and a rollback from other PUT bodies. Raises Invalid when `version` comes
    with other fields, as Marathon does."""
    if not isinstance(document, dict):
        return UpdateKind.CHANGE
    given = {key for key, value in document.items() if value is not None}
    given = (given & APP_DOCUMENT_KEYS) - {"id"}
    if "version" in given:
        if given != {"version"}:
            raise Invalid([Violation("/", VERSION_ONLY_WITH_ID)])
        if not isinstance(document["version"], str):
            raise Invalid([Violation("/version", "error.expected.jsstring")])
        return UpdateKind.ROLLBACK
    return UpdateKind.SCALE if given == {"instances"} else UpdateKind.CHANGE


def app_from_json(
    document: JsonValue, *, base: AppDefinition | None, version: datetime, group: str = "/"
) -> AppDefinition:
    """The app a Marathon app definition describes, as version `version`.

    Relative ids (and dependencies) resolve against `group`. Without `base`, absent fields take
    Marathon's defaults; with it, they keep the base's values. A new app, or a change of
    anything but `instances`, stamps both `versionInfo` times; a change of `instances` alone
    stamps `lastScalingAt`; no change keeps the base's `versionInfo`."""
    if not isinstance(document, dict):
        raise MalformedInput("An app definition must be a JSON object")
    too_big = size_violations(document)
    if too_big:
        raise Invalid(too_big)
    problems = Violations()
    defaults = base if base is not None else _marathon_defaults(version)
    app = _read_app(document, defaults, group, problems)
    problems.raise_if_any()
    app_violations(app).raise_if_any()
    return replace(app, version=version, version_info=_version_info(app, base, version))


def _marathon_defaults(version: datetime) -> AppDefinition:
    return AppDefinition(id="", version=version, version_info=VersionInfo(version, version))


def _read_app(
    document: JsonObject, defaults: AppDefinition, group: str, problems: Violations
) -> AppDefinition:
    fields = FieldReader(document, problems)
    app_id = _read_id(fields, defaults, group)
    passthrough = read_passthrough(document, defaults.passthrough, problems)
    uris = _read_uris(document, defaults, passthrough, problems)
    ports = read_port_definitions(document, problems)
    port_definitions = defaults.port_definitions if ports is None else ports
    port_count = addressable_port_count(port_definitions, passthrough.get("container"))
    cmd, args = _read_command(fields, defaults)
    return replace(
        defaults,
        id=app_id,
        cmd=cmd,
        args=args,
        user=fields.get("user", read_string, defaults.user),
        env=fields.get("env", read_env, defaults.env),
        instances=fields.integer("instances", defaults.instances, minimum=0),
        cpus=fields.number("cpus", defaults.cpus, minimum=0.0),
        mem=fields.number("mem", defaults.mem, minimum=0.0),
        disk=fields.number("disk", defaults.disk, minimum=0.0),
        gpus=fields.integer("gpus", defaults.gpus, minimum=0),
        executor=fields.get("executor", read_string, defaults.executor),
        constraints=fields.get("constraints", read_constraints, defaults.constraints),
        uris=uris,
        port_definitions=port_definitions,
        require_ports=fields.get("requirePorts", read_boolean, defaults.require_ports),
        backoff_seconds=fields.get("backoffSeconds", _read_seconds, defaults.backoff_seconds),
        backoff_factor=fields.number("backoffFactor", defaults.backoff_factor, minimum=1.0),
        max_launch_delay_seconds=fields.get(
            "maxLaunchDelaySeconds", _read_seconds, defaults.max_launch_delay_seconds
        ),
        container_image=container_image(passthrough.get("container")),
        health_checks=_read_health_checks(fields, defaults.health_checks, port_count),
        dependencies=_read_dependencies(fields, defaults.dependencies, app_id),
        upgrade_strategy=_read_upgrade_strategy(fields, defaults.upgrade_strategy),
        labels=fields.get("labels", read_string_map, defaults.labels),
        task_kill_grace_period_seconds=fields.get(
            "taskKillGracePeriodSeconds", _read_seconds, defaults.task_kill_grace_period_seconds
        ),
        kill_selection=fields.enum("killSelection", defaults.kill_selection, KillSelection),
        passthrough=passthrough,
    )


def _read_id(fields: FieldReader, defaults: AppDefinition, group: str) -> str:
    if not fields.has("id"):
        if not defaults.id:
            fields.problems.add("/id", "error.path.missing")
        return defaults.id
    raw = fields.get("id", read_string, None)
    if raw is None:
        return defaults.id
    app_id = normalize_path(raw, group)
    fields.problems.found.extend(path_violations(app_id, at="/id"))
    if app_id == "/":
        fields.problems.add("/id", "Path must contain at least one path element")
    return app_id


def _read_command(
    fields: FieldReader, defaults: AppDefinition
) -> tuple[str | None, tuple[str, ...] | None]:
    """`cmd` and `args` come together: giving either replaces both of the base's."""
    if not (fields.has("cmd") or fields.has("args")):
        return defaults.cmd, defaults.args
    cmd = fields.get("cmd", read_string, None)
    if cmd == "":
        fields.problems.add("/cmd", "must not be an empty string")
    args = fields.get("args", read_strings, None)
    return cmd, args or None


def _read_uris(
    document: JsonObject,
    defaults: AppDefinition,
    passthrough: dict[str, JsonValue],
    problems: Violations,
) -> tuple[str, ...]:
    """The URIs to fetch; `passthrough["fetch"]` is updated to the matching artifacts."""
    artifacts = read_artifacts(document, problems)
    if artifacts is None:
        return defaults.uris
    uris, fetch = artifacts
    passthrough.pop("fetch", None)
    if fetch:
        passthrough["fetch"] = fetch
    return uris


def _read_seconds(value: JsonValue, path: str, problems: Violations) -> float | None:
    """A whole, non-negative number of seconds (Marathon's int32 fields)."""
    seconds = read_integer(value, path, problems, minimum=0)
    return None if seconds is None else float(seconds)


def _read_health_checks(
    fields: FieldReader, fallback: tuple[HealthCheck, ...], port_count: int
) -> tuple[HealthCheck, ...]:
    if not fields.has("healthChecks"):
        return fallback
    checks = read_list(
        fields.document["healthChecks"], "/healthChecks", fields.problems, read_health_check
    )
    if checks is None:
        return fallback
    return tuple(with_default_port_index(check, port_count) for check in checks)


def _read_dependencies(
    fields: FieldReader, fallback: tuple[str, ...], app_id: str
) -> tuple[str, ...]:
    """Dependencies, resolved against the app's group like relative ids."""
    dependencies = fields.get("dependencies", read_strings, None)
    if dependencies is None:
        return fallback
    resolved = tuple(normalize_path(path, group_of(app_id)) for path in dependencies)
    for index, path in enumerate(resolved):
        fields.problems.found.extend(path_violations(path, at=f"/dependencies({index})"))
    return resolved


def _read_upgrade_strategy(fields: FieldReader, fallback: UpgradeStrategy) -> UpgradeStrategy:
    document = fields.get("upgradeStrategy", read_object, None)
    if document is None:
        return fallback
    strategy = FieldReader(document, fields.problems, "/upgradeStrategy")
    defaults = UpgradeStrategy()
    return UpgradeStrategy(
        minimum_health_capacity=strategy.number(
            "minimumHealthCapacity", defaults.minimum_health_capacity, minimum=0.0, maximum=1.0
        ),
        maximum_over_capacity=strategy.number(
            "maximumOverCapacity", defaults.maximum_over_capacity, minimum=0.0, maximum=1.0
        ),
    )


def _version_info(app: AppDefinition, base: AppDefinition | None, version: datetime) -> VersionInfo:
    if base is None or is_config_change(base, app):
        return VersionInfo(last_scaling_at=version, last_config_change_at=version)
    if app.instances != base.instances:
        return replace(base.version_info, last_scaling_at=version)
    return base.version_info


# --- writing ------------------------------------------------------------------------------

OMITTED_WHEN_EMPTY = frozenset(
    {
        "args", "env", "constraints", "fetch", "storeUrls", "healthChecks", "readinessChecks",
        "dependencies", "secrets",
    }
)  # fmt: skip


def app_to_json(app: AppDefinition) -> JsonObject:
    """The definition part of Marathon 1.6–1.8's app JSON (the API adds tasks, counts and
    deployments). Keys Marathon leaves out when unset or empty are left out."""
    extra = {key: _copied(value) for key, value in app.passthrough.items()}
    document: JsonObject = {
        "id": app.id,
        "cmd": app.cmd,
        "args": list(app.args or ()),
        "user": app.user,
        "env": _copied(dict(app.env)),
        "instances": app.instances,
        "cpus": app.cpus,
        "mem": app.mem,
        "disk": app.disk,
        "gpus": app.gpus,
        "executor": app.executor,
        "constraints": [_constraint_to_json(constraint) for constraint in app.constraints],
        "fetch": extra.get("fetch") or [uri_artifact(uri) for uri in app.uris],
        "storeUrls": extra.get("storeUrls"),
        "backoffSeconds": _whole(app.backoff_seconds),
        "backoffFactor": app.backoff_factor,
        "maxLaunchDelaySeconds": _whole(app.max_launch_delay_seconds),
        "container": extra.get("container") or _image_container(app.container_image),
        "healthChecks": [health_check_to_json(check) for check in app.health_checks],
        "readinessChecks": extra.get("readinessChecks"),
        "dependencies": list(app.dependencies),
        "upgradeStrategy": {
            "minimumHealthCapacity": app.upgrade_strategy.minimum_health_capacity,
            "maximumOverCapacity": app.upgrade_strategy.maximum_over_capacity,
        },
        "labels": dict(app.labels),
        "acceptedResourceRoles": extra.get("acceptedResourceRoles"),
        "ipAddress": extra.get("ipAddress"),
        "version": format_timestamp(app.version),
        "versionInfo": {
            "lastScalingAt": format_timestamp(app.version_info.last_scaling_at),
            "lastConfigChangeAt": format_timestamp(app.version_info.last_config_change_at),
        },
        "residency": extra.get("residency"),
        "secrets": extra.get("secrets"),
        "taskKillGracePeriodSeconds": _whole(app.task_kill_grace_period_seconds),
        "unreachableStrategy": extra.get("unreachableStrategy"),
        "killSelection": app.kill_selection.value,
        "portDefinitions": [_port_definition_to_json(d) for d in app.port_definitions],
        "requirePorts": app.require_ports,
        "networks": extra.get("networks"),
    }
    return {key: value for key, value in document.items() if not _is_omitted(key, value)}


def _image_container(image: str | None) -> JsonValue:
    """The container of an app given only an image (one not read from Marathon JSON)."""
    return None if image is None else {"type": "DOCKER", "docker": {"image": image}}


def _is_omitted(key: str, value: JsonValue) -> bool:
    return value is None or (key in OMITTED_WHEN_EMPTY and value in ([], {}))


def _copied(value: JsonValue) -> JsonValue:
    copied: JsonValue = json.loads(json.dumps(value))
    return copied


def _whole(seconds: float | None) -> JsonValue:
    """Marathon's whole-second fields as JSON integers."""
    if seconds is None:
        return None
    return int(seconds) if float(seconds).is_integer() else seconds


def _constraint_to_json(constraint: Constraint) -> JsonValue:
    parts: list[JsonValue] = [constraint.field, constraint.operator.value]
    if constraint.value is not None:
        parts.append(constraint.value)
    return parts


def _port_definition_to_json(definition: PortDefinition) -> JsonValue:
    document: JsonObject = {"port": definition.port, "protocol": definition.protocol}
    if definition.name is not None:
        document["name"] = definition.name
    if definition.labels:
        document["labels"] = dict(definition.labels)
    return document
