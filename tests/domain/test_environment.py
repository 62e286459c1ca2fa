from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.documents import JsonValue
from conveyor.domain.environment import (
    LABEL_PREFIX,
    label_environment,
    label_variable_suffix,
    port_environment,
    task_environment,
)

VERSION = datetime(2015, 2, 3, 12, 30, tzinfo=UTC)


def app(
    *,
    labels: dict[str, str] | None = None,
    env: dict[str, JsonValue] | None = None,
    image: str | None = None,
) -> AppDefinition:
    return AppDefinition(
        id="/app",
        version=VERSION,
        version_info=VersionInfo(VERSION, VERSION),
        cmd="env",
        labels=labels or {},
        env=env or {},
        container_image=image,
    )


def test_minimal_task_environment_matches_marathons_own_test() -> None:
    env = task_environment(app(), task_id="taskId")

    assert env == {
        "MESOS_TASK_ID": "taskId",
        "MARATHON_APP_ID": "/app",
        "MARATHON_APP_VERSION": "2015-02-03T12:30:00.000Z",
        "MARATHON_APP_RESOURCE_CPUS": "1.0",
        "MARATHON_APP_RESOURCE_MEM": "128.0",
        "MARATHON_APP_RESOURCE_DISK": "0.0",
        "MARATHON_APP_RESOURCE_GPUS": "0",
        "MARATHON_APP_LABELS": "",
    }


def test_image_and_labels_are_announced() -> None:
    env = task_environment(
        app(image="myregistry/myimage:version", labels={"LABEL1": "VALUE1", "LABEL2": "VALUE2"}),
        task_id="taskId",
    )

    assert env["MARATHON_APP_DOCKER_IMAGE"] == "myregistry/myimage:version"
    assert env["MARATHON_APP_LABELS"] == "LABEL1 LABEL2"
    assert env["MARATHON_APP_LABEL_LABEL1"] == "VALUE1"
    assert env["MARATHON_APP_LABEL_LABEL2"] == "VALUE2"


def test_label_names_are_sanitized_and_upper_cased() -> None:
    assert label_variable_suffix("com.example/tier") == "COM_EXAMPLE_TIER"
    assert label_variable_suffix("a..--b_c") == "A_B_C"


def test_over_long_labels_are_left_out() -> None:
    long_name = "n" * (512 - len(LABEL_PREFIX))
    env = label_environment({"ok": "v", long_name: "v", "big": "x" * 512, "edge": "x" * 511})

    assert env["MARATHON_APP_LABELS"] == "OK EDGE"
    assert set(env) == {"MARATHON_APP_LABELS", "MARATHON_APP_LABEL_OK", "MARATHON_APP_LABEL_EDGE"}


def test_app_env_wins_over_everything_marathon_sets() -> None:
    env = task_environment(
        app(env={"MARATHON_APP_ID": "mine", "PORT0": "1", "PLAIN": "x"}),
        task_id="t",
        host_env={"PORT0": "31000", "HOST": "node-1"},
    )

    assert env["MARATHON_APP_ID"] == "mine"
    assert env["PORT0"] == "1"
    assert env["HOST"] == "node-1"
    assert env["PLAIN"] == "x"


def test_host_env_overrides_marathons_task_context() -> None:
    env = task_environment(app(), task_id="t", host_env={"MESOS_TASK_ID": "engine's"})

    assert env["MESOS_TASK_ID"] == "engine's"


def test_secret_references_are_not_put_in_the_environment() -> None:
    env = task_environment(app(env={"DB_PASSWORD": {"secret": "db"}, "USER": "me"}), task_id="t")

    assert "DB_PASSWORD" not in env
    assert env["USER"] == "me"


@given(st.dictionaries(st.text(min_size=1, max_size=40), st.text(max_size=20), max_size=6))
def test_every_label_variable_name_is_a_valid_shell_name(labels: dict[str, str]) -> None:
    env = label_environment(labels)

    listed = env["MARATHON_APP_LABELS"].split()
    assert {LABEL_PREFIX + suffix for suffix in listed} == set(env) - {"MARATHON_APP_LABELS"}
    for name in env:
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in name)
        assert name == name.upper()


def test_port_variables_follow_marathon() -> None:
    env = port_environment((31001, 31002, 31003), ("http", None, "admin-ui"), "node-1")
    assert env == {
        "PORT0": "31001",
        "PORT1": "31002",
        "PORT2": "31003",
        "PORT": "31001",
        "PORTS": "31001,31002,31003",
        "HOST": "node-1",
        "PORT_HTTP": "31001",
        "PORT_ADMIN-UI": "31003",
    }
    assert port_environment((), (), "node-1") == {"PORTS": "", "HOST": "node-1"}
