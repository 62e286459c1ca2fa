"""Validation of Marathon app definitions: every problem is a Violation with Marathon's path and
message, and all of a document's problems come in one Invalid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.domain.app_json import app_from_json
from conveyor.domain.apps import AppDefinition
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid
from conveyor.domain.paths import ID_SEGMENT_PATTERN

NOW = datetime(2024, 3, 1, tzinfo=UTC)
NO_COMMAND = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
PORT_INDEX = (
    "Health check port indices must address an element of the ports array or container port "
    "mappings."
)


def problems(document: JsonValue, base: AppDefinition | None = None) -> list[tuple[str, str]]:
    """The (path, message) pairs of the Invalid that reading `document` raises."""
    with pytest.raises(Invalid) as raised:
        app_from_json(document, base=base, version=NOW)
    assert raised.value.violations, "an Invalid names at least one violation"
    return [(violation.path, violation.error) for violation in raised.value.violations]


def app(**fields: JsonValue) -> JsonObject:
    return {"id": "/web", "cmd": "serve", **fields}


def test_id_is_required() -> None:
    assert problems({"cmd": "x"}) == [("/id", "error.path.missing")]


def test_id_segments_must_match_marathons_pattern() -> None:
    message = f"must fully match regular expression '{ID_SEGMENT_PATTERN}'"
    assert problems(app(id="/Prod/web_1")) == [("/id", message)]


def test_id_must_name_something_below_the_root() -> None:
    for root in ("/", "..", "a/.."):
        assert problems(app(id=root)) == [("/id", "Path must contain at least one path element")]


def test_id_must_not_end_with_a_reserved_keyword() -> None:
    assert problems(app(id="/prod/versions")) == [
        (
            "/id",
            "must not end with any of the following reserved keywords: restart, tasks, versions",
        )
    ]


def test_app_needs_cmd_args_or_container() -> None:
    assert problems({"id": "/web"}) == [("/", NO_COMMAND)]
    assert problems({"id": "/web", "args": []}) == [("/", NO_COMMAND)]


def test_cmd_and_args_together_are_rejected() -> None:
    assert problems(app(args=["serve"])) == [("/", NO_COMMAND)]
    container = {"docker": {"image": "nginx"}}
    assert problems(app(args=["serve"], container=container)) == [("/", NO_COMMAND)]


def test_container_without_an_image_does_not_count_as_a_command() -> None:
    assert problems({"id": "/web", "container": {"type": "MESOS"}}) == [("/", NO_COMMAND)]


def test_empty_cmd_is_rejected() -> None:
    assert problems(app(cmd="")) == [("/cmd", "must not be an empty string")]


def test_wrong_types_name_the_expected_type() -> None:
    assert problems(
        {
            "id": 5,
            "cmd": ["x"],
            "args": "x",
            "instances": "3",
            "cpus": "NaN",
            "requirePorts": "true",
            "env": [],
            "labels": {"a": 1},
            "upgradeStrategy": [],
            "healthChecks": {},
        }
    ) == [
        ("/id", "error.expected.jsstring"),
        ("/cmd", "error.expected.jsstring"),
        ("/args", "error.expected.jsarray"),
        ("/env", "error.expected.jsobject"),
        ("/instances", "error.expected.jsnumber"),
        ("/cpus", "error.expected.jsnumber"),
        ("/requirePorts", "error.expected.jsboolean"),
        ("/healthChecks", "error.expected.jsarray"),
        ("/upgradeStrategy", "error.expected.jsobject"),
        ("/labels/a", "error.expected.jsstring"),
    ]


def test_booleans_are_not_numbers() -> None:
    assert problems(app(instances=True, cpus=False)) == [
        ("/instances", "error.expected.jsnumber"),
        ("/cpus", "error.expected.jsnumber"),
    ]


def test_integer_fields_reject_fractions_and_values_beyond_int32() -> None:
    assert problems(app(instances=1.5, gpus=2**31, backoffSeconds=0.5)) == [
        ("/instances", "error.expected.int"),
        ("/gpus", "error.expected.int"),
        ("/backoffSeconds", "error.expected.int"),
    ]


def test_whole_floats_are_integers() -> None:
    assert app_from_json(app(instances=2.0), base=None, version=NOW).instances == 2


def test_numbers_must_be_finite() -> None:
    assert problems(app(cpus=float("nan"), mem=float("inf"), disk=10**400)) == [
        ("/cpus", "error.expected.double"),
        ("/mem", "error.expected.double"),
        ("/disk", "error.expected.double"),
    ]


def test_numbers_below_their_minimum_are_rejected() -> None:
    assert problems(
        app(
            instances=-1,
            cpus=-0.5,
            mem=-1,
            disk=-1,
            gpus=-1,
            backoffSeconds=-1,
            backoffFactor=0.5,
            maxLaunchDelaySeconds=-1,
            taskKillGracePeriodSeconds=-1,
        )
    ) == [
        ("/instances", "got -1, expected 0 or more"),
        ("/cpus", "got -0.5, expected 0.0 or more"),
        ("/mem", "got -1.0, expected 0.0 or more"),
        ("/disk", "got -1.0, expected 0.0 or more"),
        ("/gpus", "got -1, expected 0 or more"),
        ("/backoffSeconds", "got -1, expected 0 or more"),
        ("/backoffFactor", "got 0.5, expected 1.0 or more"),
        ("/maxLaunchDelaySeconds", "got -1, expected 0 or more"),
        ("/taskKillGracePeriodSeconds", "got -1, expected 0 or more"),
    ]


def test_upgrade_strategy_values_lie_between_zero_and_one() -> None:
    strategy = {"minimumHealthCapacity": 1.5, "maximumOverCapacity": -0.1}
    assert problems(app(upgradeStrategy=strategy)) == [
        ("/upgradeStrategy/minimumHealthCapacity", "got 1.5, expected between 0.0 and 1.0"),
        ("/upgradeStrategy/maximumOverCapacity", "got -0.1, expected between 0.0 and 1.0"),
    ]


def test_kill_selection_must_be_in_the_enum() -> None:
    assert problems(app(killSelection="RANDOM")) == [
        ("/killSelection", "error.unknown.enum.literal")
    ]


def test_port_numbers_lie_between_0_and_65535() -> None:
    assert problems(app(portDefinitions=[{"port": 70000}, {"port": -1}])) == [
        ("/portDefinitions(0)/port", "got 70000, expected between 0 and 65535"),
        ("/portDefinitions(1)/port", "got -1, expected between 0 and 65535"),
    ]
    assert problems(app(ports=[0, 65536])) == [
        ("/ports(1)", "got 65536, expected between 0 and 65535")
    ]


def test_ports_must_be_unique_except_zero() -> None:
    definitions = [{"port": 0}, {"port": 0}, {"port": 80}, {"port": 80}]
    assert problems(app(portDefinitions=definitions)) == [
        ("/portDefinitions", "Ports must be unique.")
    ]
    assert problems(app(ports=[0, 0, 80, 80])) == [("/", "ports must be unique")]


def test_port_names_must_be_unique() -> None:
    definitions = [{"port": 0, "name": "http"}, {"port": 0, "name": "http"}]
    assert problems(app(portDefinitions=definitions)) == [
        ("/portDefinitions", "Port names must be unique.")
    ]


def test_port_protocol_must_be_tcp_udp_or_both() -> None:
    assert problems(app(portDefinitions=[{"port": 0, "protocol": "sctp"}])) == [
        ("/portDefinitions(0)/protocol", "error.unknown.enum.literal")
    ]


def test_ports_and_different_port_definitions_are_rejected() -> None:
    assert problems(app(ports=[80], portDefinitions=[{"port": 81}])) == [
        ("/", "cannot specify both ports and port definitions")
    ]
    same = app_from_json(app(ports=[80], portDefinitions=[{"port": 80}]), base=None, version=NOW)
    assert same.service_ports == (80,)


def test_health_check_port_index_must_address_a_port() -> None:
    assert problems(app(ports=[0], healthChecks=[{"portIndex": 1}])) == [
        ("/healthChecks(0)/portIndex", PORT_INDEX)
    ]
    assert problems(app(portDefinitions=[], healthChecks=[{"protocol": "TCP"}])) == [
        ("/healthChecks(0)/portIndex", PORT_INDEX)
    ]


def test_health_check_port_index_may_address_container_port_mappings() -> None:
    container = {
        "type": "DOCKER",
        "docker": {"image": "nginx", "network": "BRIDGE"},
        "portMappings": [{"containerPort": 80}, {"containerPort": 443}],
    }
    document = app(container=container, healthChecks=[{"portIndex": 1}])
    assert app_from_json(document, base=None, version=NOW).health_checks[0].port_index == 1


def test_health_check_port_and_port_index_are_exclusive() -> None:
    assert problems(app(healthChecks=[{"port": 8080, "portIndex": 0}])) == [
        ("/healthChecks(0)", "HealthCheck must specify either a port or a portIndex")
    ]


def test_http_health_check_path_starts_with_a_slash() -> None:
    assert problems(app(healthChecks=[{"protocol": "HTTP", "path": "health"}])) == [
        ("/healthChecks(0)/path", "must start with '/'")
    ]


def test_command_health_check_needs_a_command() -> None:
    message = "A command is required when using the COMMAND health check protocol."
    assert problems(app(healthChecks=[{"protocol": "COMMAND"}])) == [
        ("/healthChecks(0)/command", message)
    ]
    assert problems(app(healthChecks=[{"protocol": "COMMAND", "command": {}}])) == [
        ("/healthChecks(0)/command/value", "error.path.missing")
    ]


def test_health_check_numbers_are_non_negative_integers() -> None:
    check = {
        "gracePeriodSeconds": -1,
        "intervalSeconds": -2,
        "timeoutSeconds": 1.5,
        "maxConsecutiveFailures": -3,
        "protocol": "TCP",
        "port": 70000,
    }
    assert problems(app(healthChecks=[check])) == [
        ("/healthChecks(0)/gracePeriodSeconds", "got -1, expected 0 or more"),
        ("/healthChecks(0)/intervalSeconds", "got -2, expected 0 or more"),
        ("/healthChecks(0)/timeoutSeconds", "error.expected.int"),
        ("/healthChecks(0)/maxConsecutiveFailures", "got -3, expected 0 or more"),
        ("/healthChecks(0)/port", "got 70000, expected between 0 and 65535"),
    ]


def test_health_check_protocol_must_be_known() -> None:
    assert problems(app(healthChecks=[{"protocol": "UDP"}, "HTTP"])) == [
        ("/healthChecks(0)/protocol", "error.unknown.enum.literal"),
        ("/healthChecks(1)", "error.expected.jsobject"),
    ]


def test_at_most_one_mesos_health_check() -> None:
    checks = [{"protocol": "MESOS_HTTP"}, {"protocol": "MESOS_TCP"}]
    assert problems(app(healthChecks=checks)) == [
        ("/", "AppDefinition can contain at most one Mesos health check")
    ]


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (["hostname"], "Each constraint must have either 2 or 3 fields"),
        (["hostname", "UNIQUE", "a", "b"], "Each constraint must have either 2 or 3 fields"),
        (
            ["hostname", "NEAR"],
            "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, "
            "LIKE, MAX_PER, UNLIKE or IS",
        ),
        (
            ["hostname", "unique"],
            "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, "
            "LIKE, MAX_PER, UNLIKE or IS",
        ),
        (["hostname", "UNIQUE", "x"], "Value specified but not used"),
        (["rack", "CLUSTER"], "Missing value"),
        (["rack", "IS"], "Missing value"),
        (["rack", "GROUP_BY", "two"], "Value was specified but is not a number"),
        (["rack", "MAX_PER", "1.5"], "Value was not specified or is not a number"),
        (["rack", "MAX_PER"], "Value was not specified or is not a number"),
        (["hostname", "LIKE"], "A regular expression value must be provided"),
        (["hostname", "UNLIKE", "a(b"], "'a(b' is not a valid regular expression"),
    ],
)
def test_constraints_follow_marathons_rules(constraint: list[JsonValue], message: str) -> None:
    assert problems(app(constraints=[["hostname", "UNIQUE"], constraint])) == [
        ("/constraints(1)", message)
    ]


def test_constraint_parts_must_be_strings() -> None:
    assert problems(app(constraints=[["rack", "MAX_PER", 2], "hostname:UNIQUE"])) == [
        ("/constraints(0)(2)", "error.expected.jsstring"),
        ("/constraints(1)", "error.expected.jsarray"),
    ]


def test_env_values_are_strings_or_secret_references() -> None:
    env = {"A": "1", "B": 2, "C": {"secret": 3}, "D": {"name": "x"}, "E": {"secret": "db"}}
    assert problems(app(env=env)) == [
        ("/env/B", "error.expected.jsstring"),
        ("/env/C/secret", "error.expected.jsstring"),
        ("/env/D/secret", "error.path.missing"),
    ]


def test_dependencies_must_be_valid_paths() -> None:
    message = f"must fully match regular expression '{ID_SEGMENT_PATTERN}'"
    assert problems(app(dependencies=["/ok", "/Not_OK", 3])) == [
        ("/dependencies(2)", "error.expected.jsstring")
    ]
    assert problems(app(dependencies=["/ok", "/Not_OK"])) == [("/dependencies(1)", message)]


def test_stored_fields_must_have_marathons_shape() -> None:
    assert problems(
        app(
            container={"type": "RKT", "docker": {"image": ""}},
            fetch=[{"uri": 1}, {}],
            secrets={"db": {"path": "/x"}},
            readinessChecks={},
            ipAddress=[],
            networks=["host"],
            residency="yes",
            unreachableStrategy="enabled",
            acceptedResourceRoles=[1],
            storeUrls="x",
        )
    ) == [
        ("/container/type", "error.unknown.enum.literal"),
        ("/container/docker/image", "must not be empty"),
        ("/secrets/db/source", "error.path.missing"),
        ("/readinessChecks", "error.expected.jsarray"),
        ("/ipAddress", "error.expected.jsobject"),
        ("/networks(0)", "error.expected.jsobject"),
        ("/residency", "error.expected.jsobject"),
        ("/unreachableStrategy", "error.expected.jsobject"),
        ("/acceptedResourceRoles(0)", "error.expected.jsstring"),
        ("/storeUrls", "error.expected.jsarray"),
        ("/fetch(0)/uri", "error.expected.jsstring"),
        ("/fetch(1)/uri", "error.path.missing"),
    ]


def test_docker_container_needs_a_docker_image() -> None:
    assert problems(app(container={"type": "DOCKER"})) == [("/container/docker", "must be defined")]
    assert problems(app(container={"docker": {}})) == [
        ("/container/docker/image", "error.path.missing")
    ]


def test_uris_and_fetch_together_are_rejected() -> None:
    assert problems(app(uris=["http://a"], fetch=[{"uri": "http://b"}])) == [
        ("/uris", "may not be set in conjunction with fetch")
    ]


def test_gpus_need_the_mesos_containerizer() -> None:
    assert problems(app(gpus=1, container={"type": "DOCKER", "docker": {"image": "cuda"}})) == [
        ("/", "GPU resources only work with the Mesos containerizer")
    ]


def test_all_problems_of_a_document_come_in_one_invalid() -> None:
    found = problems(
        {"id": "/Web", "cpus": -1, "mem": "lots", "healthChecks": [{"portIndex": "0"}]}
    )
    assert [path for path, _ in found] == ["/id", "/cpus", "/mem", "/healthChecks(0)/portIndex"]


def test_whole_app_rules_are_checked_once_every_field_reads() -> None:
    """As Marathon: a document that is not even valid JSON for an app is not also told it lacks
    a command."""
    assert problems({"id": "/web", "cpus": "x"}) == [("/cpus", "error.expected.jsnumber")]


def test_a_change_is_validated_together_with_its_base() -> None:
    base = app_from_json(app(ports=[0, 0], healthChecks=[{"portIndex": 1}]), base=None, version=NOW)
    assert problems({"ports": [0]}, base=base) == [("/healthChecks(0)/portIndex", PORT_INDEX)]
    unchanged = app_from_json({"cmd": None, "container": None}, base=base, version=NOW)
    assert unchanged.cmd == "serve"
