"""The parts of a Marathon app definition with rules of their own: ports (and assigning service
ports), constraints, environment variables, and the rules that look at the whole app once its
fields are read (Marathon's `AppValidation`).

Messages are Marathon 1.6–1.8's own, so clients that match on them keep working.
"""

from __future__ import annotations

import re
from dataclasses import replace

from conveyor.domain.apps import (
    AppDefinition,
    Constraint,
    ConstraintOperator,
    HealthProtocol,
    PortDefinition,
)
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid, Violation
from conveyor.domain.health_check_json import MESOS_PROTOCOLS, PORT_INDEX_MESSAGE
from conveyor.domain.json_fields import (
    FieldReader,
    Violations,
    read_list,
    read_object,
    read_port,
    read_string,
    read_string_map,
    read_strings,
)

PORT_PROTOCOLS = ("tcp", "udp", "tcp,udp")
CMD_ARGS_OR_CONTAINER = (
    "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
)
OPERATOR_MESSAGE = (
    "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, "
    "MAX_PER, UNLIKE or IS"
)
_INT32 = re.compile(r"[+-]?[0-9]{1,10}")


# --- ports --------------------------------------------------------------------------------


def read_port_definitions(
    document: JsonObject, problems: Violations
) -> tuple[PortDefinition, ...] | None:
    """The ports a document asks for, from `portDefinitions` or the legacy `ports` list;
    None when it names neither."""
    fields = FieldReader(document, problems)
    definitions = fields.get("portDefinitions", _read_definitions, None)
    ports = fields.get("ports", _read_legacy_ports, None)
    if definitions and ports and tuple(d.port for d in definitions) != ports:
        problems.add("/", "cannot specify both ports and port definitions")
    if definitions is not None:
        return definitions
    if ports is not None:
        return tuple(PortDefinition(port=port) for port in ports)
    if fields.has("portDefinitions") or fields.has("ports"):
        return ()
    return None


def _read_definitions(
    value: JsonValue, path: str, problems: Violations
) -> tuple[PortDefinition, ...] | None:
    definitions = read_list(value, path, problems, _read_definition)
    if definitions is None:
        return None
    ports = [d.port for d in definitions if d.port != 0]
    if len(set(ports)) != len(ports):
        problems.add(path, "Ports must be unique.")
    names = [d.name for d in definitions if d.name is not None]
    if len(set(names)) != len(names):
        problems.add(path, "Port names must be unique.")
    return tuple(definitions)


def _read_definition(value: JsonValue, path: str, problems: Violations) -> PortDefinition | None:
    document = read_object(value, path, problems)
    if document is None:
        return None
    fields = FieldReader(document, problems, path)
    return PortDefinition(
        port=fields.get("port", read_port, 0),
        protocol=fields.get("protocol", _read_port_protocol, "tcp"),
        name=fields.get("name", read_string, None),
        labels=fields.get("labels", read_string_map, {}),
    )


def _read_port_protocol(value: JsonValue, path: str, problems: Violations) -> str | None:
    protocol = read_string(value, path, problems)
    if protocol is None:
        return None
    if protocol.lower() not in PORT_PROTOCOLS:
        problems.add(path, "error.unknown.enum.literal")
        return None
    return protocol.lower()


def _read_legacy_ports(value: JsonValue, path: str, problems: Violations) -> tuple[int, ...] | None:
    ports = read_list(value, path, problems, read_port)
    if ports is None:
        return None
    assigned = [port for port in ports if port != 0]
    if len(set(assigned)) != len(assigned):
        problems.add("/", "ports must be unique")
    return tuple(ports)


def assign_service_ports(
    app: AppDefinition, *, used: set[int], first: int = 10000, last: int = 20000
) -> AppDefinition:
    """Give each port definition with port 0 a free service port from `first` ≤ port < `last`
    (Marathon's `--local_port_min`/`--local_port_max`), the lowest first; ports already set stay.
    Raises Invalid at `/portDefinitions` when the range has no free port left."""
    taken = used | {definition.port for definition in app.port_definitions}
    free = (port for port in range(first, last) if port not in taken)
    assigned: list[PortDefinition] = []
    for definition in app.port_definitions:
        port = definition.port or next(free, None)
        if port is None:
            message = f"All ports in the range [{first}-{last}) are already used"
            raise Invalid([Violation("/portDefinitions", message)])
        assigned.append(replace(definition, port=port))
    return replace(app, port_definitions=tuple(assigned))


# --- constraints --------------------------------------------------------------------------


def read_constraints(
    value: JsonValue, path: str, problems: Violations
) -> tuple[Constraint, ...] | None:
    constraints = read_list(value, path, problems, _read_constraint)
    return None if constraints is None else tuple(constraints)


def _read_constraint(value: JsonValue, path: str, problems: Violations) -> Constraint | None:
    """`[field, operator]` or `[field, operator, value]`, checked as Marathon checks them."""
    parts = read_strings(value, path, problems)
    if parts is None:
        return None
    if not 2 <= len(parts) <= 3:
        problems.add(path, "Each constraint must have either 2 or 3 fields")
        return None
    field, operator_name = parts[0], parts[1]
    given = parts[2] if len(parts) == 3 else None
    if operator_name not in ConstraintOperator.__members__:
        problems.add(path, OPERATOR_MESSAGE)
        return None
    operator = ConstraintOperator(operator_name)
    error = _constraint_error(operator, given)
    if error is not None:
        problems.add(path, error)
        return None
    return Constraint(field=field, operator=operator, value=given)


def _constraint_error(operator: ConstraintOperator, value: str | None) -> str | None:
    match operator:
        case ConstraintOperator.UNIQUE:
            return None if value is None else "Value specified but not used"
        case ConstraintOperator.CLUSTER | ConstraintOperator.IS:
            return "Missing value" if not value else None
        case ConstraintOperator.GROUP_BY:
            if value is None or _is_int32(value):
                return None
            return "Value was specified but is not a number"
        case ConstraintOperator.MAX_PER:
            if value is not None and _is_int32(value):
                return None
            return "Value was not specified or is not a number"
        case ConstraintOperator.LIKE | ConstraintOperator.UNLIKE:
            if value is None:
                return "A regular expression value must be provided"
            return None if _is_regex(value) else f"'{value}' is not a valid regular expression"


def _is_int32(text: str) -> bool:
    return _INT32.fullmatch(text) is not None and -(2**31) <= int(text) < 2**31


def _is_regex(text: str) -> bool:
    try:
        re.compile(text)
    except (re.error, OverflowError, RecursionError, ValueError):
        return False
    return True


# --- environment -------------------------------------------------------------------------


def read_env(value: JsonValue, path: str, problems: Violations) -> dict[str, JsonValue] | None:
    """Environment variables: strings, or `{"secret": name}` references to a secret."""
    env = read_object(value, path, problems)
    if env is None:
        return None
    read = {name: _read_env_value(item, f"{path}/{name}", problems) for name, item in env.items()}
    good: dict[str, JsonValue] = {name: item for name, item in read.items() if item is not None}
    return good if len(good) == len(read) else None


def _read_env_value(value: JsonValue, path: str, problems: Violations) -> JsonValue:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        problems.add(path, "error.expected.jsstring")
        return None
    reference = FieldReader(value, problems, path)
    if not reference.has("secret"):
        problems.add(reference.path("secret"), "error.path.missing")
        return None
    secret = reference.get("secret", read_string, None)
    return None if secret is None else {"secret": secret}


# --- rules over the whole app -------------------------------------------------------------


def app_violations(app: AppDefinition) -> Violations:
    """The rules that need the whole (merged) app: what runs, and what health checks address."""
    problems = Violations()
    container = app.passthrough.get("container")
    if not _has_command(app, container):
        problems.add("/", CMD_ARGS_OR_CONTAINER)
    _check_health_check_ports(
        app, addressable_port_count(app.port_definitions, container), problems
    )
    mesos_checks = sum(1 for check in app.health_checks if check.protocol in MESOS_PROTOCOLS)
    if mesos_checks > 1:
        problems.add("/", "AppDefinition can contain at most one Mesos health check")
    if app.gpus > 0 and _container_type(container) == "DOCKER":
        problems.add("/", "GPU resources only work with the Mesos containerizer")
    return problems


def _has_command(app: AppDefinition, container: JsonValue) -> bool:
    """Marathon's rule: exactly one of cmd and args, or neither but an image-bearing container."""
    has_cmd = bool(app.cmd)
    has_args = bool(app.args)
    return has_cmd != has_args or (not (has_cmd and has_args) and _has_image(container))


def _has_image(container: JsonValue) -> bool:
    if not isinstance(container, dict):
        return False
    docker = container.get("docker") is not None
    appc = container.get("appc") is not None
    kind = _container_type(container)
    return (docker and not appc and kind in ("DOCKER", "MESOS")) or (
        appc and not docker and kind == "MESOS"
    )


def _container_type(container: JsonValue) -> str | None:
    if not isinstance(container, dict):
        return None
    kind = container.get("type", "DOCKER")
    return kind if isinstance(kind, str) else None


def addressable_port_count(
    port_definitions: tuple[PortDefinition, ...], container: JsonValue
) -> int:
    """How many ports a health check's `portIndex` can address: the container's port mappings
    when it has any, the port definitions otherwise (Marathon's `portIndices`)."""
    if isinstance(container, dict):
        for holder in (container, container.get("docker")):
            mappings = holder.get("portMappings") if isinstance(holder, dict) else None
            if isinstance(mappings, list) and mappings:
                return len(mappings)
    return len(port_definitions)


def _check_health_check_ports(app: AppDefinition, port_count: int, problems: Violations) -> None:
    for index, check in enumerate(app.health_checks):
        if check.protocol is HealthProtocol.COMMAND or check.port is not None:
            continue
        if check.port_index is None or check.port_index >= port_count:
            problems.add(f"/healthChecks({index})/portIndex", PORT_INDEX_MESSAGE)
