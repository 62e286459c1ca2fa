"""The environment of a task: what Marathon sets for every task, then the app's own `env`.

Marathon (`TaskBuilder.commandInfo`, `taskContextEnv`, `EnvironmentHelper.labelsToEnvVars`)
builds it in three layers, a later one overriding an earlier one:

1. task context: MESOS_TASK_ID, MARATHON_APP_ID, MARATHON_APP_VERSION, MARATHON_APP_DOCKER_IMAGE
   (when there is an image), MARATHON_APP_RESOURCE_CPUS/_MEM/_DISK/_GPUS, MARATHON_APP_LABELS
   and one MARATHON_APP_LABEL_<NAME> per label;
2. where the task runs: PORT0.., PORT_<NAME>, PORT, PORTS, HOST (`port_environment`; the
   engine adds them once it has assigned the ports, a COMMAND health check gets them from the
   instance: `instance_environment`);
3. the app's `env`: plain strings only (secret references are not resolved here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from conveyor.domain.apps import AppDefinition
from conveyor.domain.clock import format_timestamp
from conveyor.domain.instances import Instance

LABEL_PREFIX = "MARATHON_APP_LABEL_"
MAX_VARIABLE_LENGTH = 512
"""Labels whose value is this long or longer, or whose name would make a variable name this long
or longer, are left out."""

_NOT_IN_NAMES = re.compile(r"[^a-zA-Z0-9_]+")


def task_environment(
    app: AppDefinition, *, task_id: str, host_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every variable a task of `app` starts with, `host_env` layered between Marathon's own
    variables and the app's `env`, which wins over both as in Marathon."""
    return {
        **marathon_environment(app, task_id=task_id),
        **(host_env or {}),
        **app_environment(app),
    }


def port_environment(
    ports: tuple[int, ...], names: tuple[str | None, ...], host: str
) -> dict[str, str]:
    """The variables Marathon gives a task about where it runs: PORT0.., PORT, PORTS, HOST and
    PORT_<NAME> for each named port (the engine knows these once it has assigned the ports)."""
    env = {f"PORT{index}": str(port) for index, port in enumerate(ports)}
    if ports:
        env["PORT"] = str(ports[0])
    env["PORTS"] = ",".join(str(port) for port in ports)
    env["HOST"] = host
    for name, port in zip(names, ports, strict=False):
        if name:
            env[f"PORT_{name.upper()}"] = str(port)
    return env


def instance_environment(app: AppDefinition, instance: Instance) -> dict[str, str]:
    """The environment a running instance of `app` (the version it runs) was started with, as
    its COMMAND health checks see it too."""
    names = tuple(definition.name for definition in app.port_definitions)
    host_env = port_environment(instance.ports, names, instance.host)
    return task_environment(app, task_id=instance.id, host_env=host_env)


def marathon_environment(app: AppDefinition, *, task_id: str) -> dict[str, str]:
    """The variables Marathon sets from the app definition and the task id."""
    env = {
        "MESOS_TASK_ID": task_id,
        "MARATHON_APP_ID": app.id,
        "MARATHON_APP_VERSION": format_timestamp(app.version),
        "MARATHON_APP_RESOURCE_CPUS": str(float(app.cpus)),
        "MARATHON_APP_RESOURCE_MEM": str(float(app.mem)),
        "MARATHON_APP_RESOURCE_DISK": str(float(app.disk)),
        "MARATHON_APP_RESOURCE_GPUS": str(app.gpus),
    }
    if app.container_image is not None:
        env["MARATHON_APP_DOCKER_IMAGE"] = app.container_image
    return {**env, **label_environment(app.labels)}


def label_environment(labels: Mapping[str, str]) -> dict[str, str]:
    """MARATHON_APP_LABELS (the variable names' suffixes, space-separated) and one
    MARATHON_APP_LABEL_<NAME> per label. Names are upper-cased, each run of characters other
    than letters, digits and `_` becomes one `_`; over-long labels are left out."""
    kept = {
        label_variable_suffix(name): value
        for name, value in labels.items()
        if len(name) < MAX_VARIABLE_LENGTH - len(LABEL_PREFIX) and len(value) < MAX_VARIABLE_LENGTH
    }
    return {
        "MARATHON_APP_LABELS": " ".join(kept),
        **{LABEL_PREFIX + suffix: value for suffix, value in kept.items()},
    }


def label_variable_suffix(name: str) -> str:
    """`com.example/tier` → `COM_EXAMPLE_TIER`."""
    return _NOT_IN_NAMES.sub("_", name).upper()


def app_environment(app: AppDefinition) -> dict[str, str]:
    """The app's own `env`, string values only (`{"secret": ...}` references are skipped)."""
    return {name: value for name, value in app.env.items() if isinstance(value, str)}
