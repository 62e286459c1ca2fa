"""Reading Marathon app definitions: defaults, relative ids, the accepted forms of each
field, and what is stored verbatim."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.domain.app_json import app_from_json, app_to_json
from conveyor.domain.apps import (
    AppDefinition,
    Constraint,
    ConstraintOperator,
    HealthCheck,
    HealthProtocol,
    KillSelection,
    PortDefinition,
    UpgradeStrategy,
    VersionInfo,
)
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import MalformedInput

CREATED = datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def created(document: JsonValue, *, group: str = "/") -> AppDefinition:
    return app_from_json(document, base=None, version=CREATED, group=group)


def test_new_app_gets_marathons_defaults() -> None:
    app = created({"id": "/web", "cmd": "serve"})

    assert app == AppDefinition(
        id="/web",
        version=CREATED,
        version_info=VersionInfo(last_scaling_at=CREATED, last_config_change_at=CREATED),
        cmd="serve",
    )
    assert (app.cpus, app.mem, app.disk, app.gpus, app.instances) == (1.0, 128.0, 0.0, 0, 1)
    assert (app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds) == (
        1.0,
        1.15,
        3600.0,
    )
    assert app.upgrade_strategy == UpgradeStrategy(1.0, 1.0)
    assert app.kill_selection is KillSelection.YOUNGEST_FIRST
    assert app.port_definitions == (PortDefinition(port=0, protocol="tcp"),)
    assert app.require_ports is False


def test_relative_id_resolves_against_group() -> None:
    assert created({"id": "web", "cmd": "x"}, group="/prod").id == "/prod/web"
    assert created({"id": "../db", "cmd": "x"}, group="/prod/web").id == "/prod/db"
    assert created({"id": "/a/./b/../c", "cmd": "x"}, group="/prod").id == "/a/c"


def test_relative_dependencies_resolve_against_the_apps_group() -> None:
    app = created({"id": "/prod/web", "cmd": "x", "dependencies": ["db", "/ops/log", "../x"]})
    assert app.dependencies == ("/prod/db", "/ops/log", "/x")


def test_fields_read_from_a_full_document() -> None:
    app = created(
        {
            "id": "/prod/api",
            "args": ["serve", "--port", "$PORT0"],
            "user": "nobody",
            "env": {"MODE": "prod", "DB_PASSWORD": {"secret": "db"}},
            "instances": 3,
            "cpus": 0.25,
            "mem": 64,
            "disk": 10.5,
            "gpus": 1,
            "executor": "//cmd",
            "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]],
            "portDefinitions": [
                {"port": 0, "name": "http", "labels": {"VIP_0": "1.2.3.4:80"}},
                {"port": 9000, "protocol": "udp"},
            ],
            "requirePorts": True,
            "backoffSeconds": 2,
            "backoffFactor": 2.5,
            "maxLaunchDelaySeconds": 60,
            "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 1}],
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
            "labels": {"team": "a"},
            "taskKillGracePeriodSeconds": 10,
            "killSelection": "OLDEST_FIRST",
        }
    )
    assert app.args == ("serve", "--port", "$PORT0")
    assert app.cmd is None
    assert app.env == {"MODE": "prod", "DB_PASSWORD": {"secret": "db"}}
    assert (app.instances, app.cpus, app.mem, app.disk, app.gpus) == (3, 0.25, 64.0, 10.5, 1)
    assert app.constraints == (
        Constraint("hostname", ConstraintOperator.UNIQUE),
        Constraint("rack", ConstraintOperator.GROUP_BY, "2"),
    )
    assert app.port_definitions == (
        PortDefinition(port=0, protocol="tcp", name="http", labels={"VIP_0": "1.2.3.4:80"}),
        PortDefinition(port=9000, protocol="udp"),
    )
    assert app.health_checks == (HealthCheck(path="/health", port_index=1),)
    assert app.upgrade_strategy == UpgradeStrategy(0.5, 0.0)
    assert app.task_kill_grace_period_seconds == 10.0
    assert app.kill_selection is KillSelection.OLDEST_FIRST
    assert (app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds) == (2, 2.5, 60)


def test_legacy_ports_become_port_definitions() -> None:
    app = created({"id": "/web", "cmd": "x", "ports": [0, 8080]})
    assert app.port_definitions == (PortDefinition(port=0), PortDefinition(port=8080))


def test_empty_port_list_means_no_ports() -> None:
    assert created({"id": "/web", "cmd": "x", "portDefinitions": []}).port_definitions == ()
    assert created({"id": "/web", "cmd": "x", "ports": []}).port_definitions == ()


def test_null_fields_count_as_absent() -> None:
    app = created({"id": "/web", "cmd": "x", "cpus": None, "container": None, "env": None})
    assert app == created({"id": "/web", "cmd": "x"})


def test_unknown_keys_are_ignored_and_never_echoed() -> None:
    app = created({"id": "/web", "cmd": "x", "tty": True, "tasks": [], "whatever": {"a": 1}})
    document = app_to_json(app)
    assert not {"tty", "tasks", "whatever"} & set(document)
    assert app == created({"id": "/web", "cmd": "x"})


def test_health_check_commands_are_read_in_marathons_form_or_as_a_string() -> None:
    app = created(
        {
            "id": "/web",
            "cmd": "x",
            "healthChecks": [
                {"protocol": "COMMAND", "command": {"value": "curl -f localhost"}},
                {"protocol": "COMMAND", "command": "true"},
            ],
        }
    )
    assert [check.command for check in app.health_checks] == ["curl -f localhost", "true"]
    assert all(check.port_index is None for check in app.health_checks)


def test_health_check_without_port_uses_the_first_port() -> None:
    app = created({"id": "/web", "cmd": "x", "healthChecks": [{"protocol": "TCP"}]})
    assert app.health_checks == (HealthCheck(protocol=HealthProtocol.TCP, port_index=0),)


def test_enums_are_read_in_any_letter_case_as_marathon_reads_them() -> None:
    app = created(
        {
            "id": "/web",
            "cmd": "x",
            "killSelection": "oldest_first",
            "healthChecks": [{"protocol": "https", "path": "/"}],
            "portDefinitions": [{"port": 0, "protocol": "UDP"}],
        }
    )
    assert app.kill_selection is KillSelection.OLDEST_FIRST
    assert app.health_checks[0].protocol is HealthProtocol.HTTPS
    assert app.port_definitions[0].protocol == "udp"


def test_stored_but_unused_fields_are_kept_verbatim() -> None:
    stored: JsonObject = {
        "secrets": {"db": {"source": "/prod/db"}},
        "readinessChecks": [{"name": "ready", "path": "/ready", "portName": "http"}],
        "ipAddress": {"networkName": "dev"},
        "residency": {"taskLostBehavior": "WAIT_FOREVER"},
        "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
        "acceptedResourceRoles": ["*"],
        "storeUrls": ["http://store"],
        "networks": [{"mode": "host"}],
        "fetch": [{"uri": "http://x/a.tgz", "extract": True, "destPath": "a"}],
    }
    app = created({"id": "/web", "cmd": "x", **stored})
    assert app.passthrough == stored
    assert app.uris == ("http://x/a.tgz",)
    document = app_to_json(app)
    assert {key: document[key] for key in stored} == stored


def test_stored_fields_are_copies_of_the_document() -> None:
    secrets: JsonObject = {"db": {"source": "/prod/db"}}
    app = created({"id": "/web", "cmd": "x", "secrets": secrets})
    secrets["db"] = {"source": "changed"}
    assert app.passthrough["secrets"] == {"db": {"source": "/prod/db"}}
    document = app_to_json(app)
    document["secrets"] = {}
    assert app.passthrough["secrets"] == {"db": {"source": "/prod/db"}}


def test_legacy_uris_become_fetch_artifacts() -> None:
    app = created({"id": "/web", "cmd": "x", "uris": ["http://a/b.tar.gz", "http://a/run.sh"]})
    assert app.uris == ("http://a/b.tar.gz", "http://a/run.sh")
    assert app_to_json(app)["fetch"] == [
        {"uri": "http://a/b.tar.gz", "extract": True, "executable": False, "cache": False},
        {"uri": "http://a/run.sh", "extract": False, "executable": False, "cache": False},
    ]
    assert "uris" not in app_to_json(app)


def test_container_is_stored_verbatim_and_its_image_read() -> None:
    container: JsonObject = {
        "type": "DOCKER",
        "docker": {"image": "nginx:1.25", "forcePullImage": True},
        "volumes": [{"containerPath": "/data", "hostPath": "/srv", "mode": "RW"}],
    }
    app = created({"id": "/web", "container": container})
    assert app.container_image == "nginx:1.25"
    assert app.passthrough["container"] == container
    assert app.cmd is None


def test_container_type_defaults_to_docker_and_is_upper_cased() -> None:
    app = created({"id": "/web", "container": {"docker": {"image": "nginx"}}})
    assert app.passthrough["container"] == {"type": "DOCKER", "docker": {"image": "nginx"}}
    mesos = created({"id": "/web", "container": {"type": "mesos", "docker": {"image": "nginx"}}})
    assert mesos.passthrough["container"] == {"type": "MESOS", "docker": {"image": "nginx"}}


def test_mesos_container_with_an_appc_image_counts_as_a_command() -> None:
    app = created({"id": "/web", "container": {"type": "MESOS", "appc": {"image": "a/b"}}})
    assert app.container_image == "a/b"


def test_top_level_document_that_is_not_an_object_is_malformed() -> None:
    for document in ([], [{"id": "/web"}], 3, "app", None, True):
        with pytest.raises(MalformedInput):
            created(document)
