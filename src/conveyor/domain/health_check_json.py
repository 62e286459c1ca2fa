"""Health checks in Marathon's JSON: reading one from an app definition, writing one back.

Marathon (1.6–1.8) keeps only the fields that mean something for the protocol: a path for the
HTTP kinds, a port or port index for all but COMMAND, a command for COMMAND alone.
"""

from __future__ import annotations

from dataclasses import replace

from conveyor.domain.apps import HealthCheck, HealthProtocol
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.json_fields import (
    FieldReader,
    Violations,
    read_boolean,
    read_object,
    read_port,
    read_string,
)

HTTP_PROTOCOLS = frozenset(
    {
        HealthProtocol.HTTP,
        HealthProtocol.HTTPS,
        HealthProtocol.MESOS_HTTP,
        HealthProtocol.MESOS_HTTPS,
    }
)
MESOS_PROTOCOLS = frozenset(
    {HealthProtocol.MESOS_HTTP, HealthProtocol.MESOS_HTTPS, HealthProtocol.MESOS_TCP}
)
PORT_INDEX_MESSAGE = (
    "Health check port indices must address an element of the ports array "
    "or container port mappings."
)
_DEFAULTS = HealthCheck()


def read_health_check(value: JsonValue, path: str, problems: Violations) -> HealthCheck | None:
    """One element of `healthChecks`; None (with the problems recorded) if it is not valid."""
    document = read_object(value, path, problems)
    if document is None:
        return None
    before = len(problems.found)
    fields = FieldReader(document, problems, path)
    protocol = fields.enum("protocol", _DEFAULTS.protocol, HealthProtocol)
    check = HealthCheck(
        protocol=protocol,
        grace_period_seconds=_at_least_zero(
            fields, "gracePeriodSeconds", _DEFAULTS.grace_period_seconds
        ),
        interval_seconds=_at_least_zero(fields, "intervalSeconds", _DEFAULTS.interval_seconds),
        timeout_seconds=_at_least_zero(fields, "timeoutSeconds", _DEFAULTS.timeout_seconds),
        max_consecutive_failures=_at_least_zero(
            fields, "maxConsecutiveFailures", _DEFAULTS.max_consecutive_failures
        ),
        delay_seconds=_at_least_zero(fields, "delaySeconds", _DEFAULTS.delay_seconds),
    )
    if protocol is HealthProtocol.COMMAND:
        check = replace(check, command=_read_command(fields))
    else:
        check = _with_port(check, fields)
    if protocol in HTTP_PROTOCOLS:
        check = replace(check, path=_read_http_path(fields))
    if protocol in (HealthProtocol.HTTP, HealthProtocol.HTTPS):
        check = replace(check, ignore_http1xx=fields.get("ignoreHttp1xx", read_boolean, False))
    return check if len(problems.found) == before else None


def _at_least_zero(fields: FieldReader, key: str, fallback: int) -> int:
    return fields.integer(key, fallback, minimum=0)


def _read_command(fields: FieldReader) -> str | None:
    """`{"value": "..."}` as Marathon writes it, or a plain string."""
    value = fields.document.get("command")
    if value is None:
        fields.problems.add(
            fields.path("command"),
            "A command is required when using the COMMAND health check protocol.",
        )
        return None
    if isinstance(value, str):
        return value
    command = read_object(value, fields.path("command"), fields.problems)
    if command is None:
        return None
    inner = FieldReader(command, fields.problems, fields.path("command"))
    if not inner.has("value"):
        fields.problems.add(inner.path("value"), "error.path.missing")
        return None
    return inner.get("value", read_string, None)


def _with_port(check: HealthCheck, fields: FieldReader) -> HealthCheck:
    port = fields.get("port", read_port, None)
    port_index = fields.get("portIndex", read_port, None)
    if port is not None and port_index is not None:
        fields.problems.add(fields.prefix, "HealthCheck must specify either a port or a portIndex")
    return replace(check, port=port, port_index=port_index)


def _read_http_path(fields: FieldReader) -> str | None:
    path = fields.get("path", read_string, None)
    if path is not None and not path.startswith("/"):
        fields.problems.add(fields.path("path"), "must start with '/'")
    return path


def with_default_port_index(check: HealthCheck, port_count: int) -> HealthCheck:
    """Marathon's normalization: a check that names neither port nor index uses the first port."""
    needs_port = check.protocol is not HealthProtocol.COMMAND
    if needs_port and check.port is None and check.port_index is None and port_count > 0:
        return replace(check, port_index=0)
    return check


def health_check_to_json(check: HealthCheck) -> JsonObject:
    """A health check as Marathon 1.6–1.8 returns it in an app definition."""
    document: JsonObject = {"protocol": check.protocol.value}
    if check.command is not None:
        document["command"] = {"value": check.command}
    if check.path is not None:
        document["path"] = check.path
    if check.port_index is not None:
        document["portIndex"] = check.port_index
    if check.port is not None:
        document["port"] = check.port
    document |= {
        "gracePeriodSeconds": check.grace_period_seconds,
        "intervalSeconds": check.interval_seconds,
        "timeoutSeconds": check.timeout_seconds,
        "maxConsecutiveFailures": check.max_consecutive_failures,
        "delaySeconds": check.delay_seconds,
    }
    if check.protocol in (HealthProtocol.HTTP, HealthProtocol.HTTPS):
        document["ignoreHttp1xx"] = check.ignore_http1xx
    return document
