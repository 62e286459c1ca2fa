"""Hypothesis strategies for the domain records the store keeps: every field, every shape."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from hypothesis import strategies as st

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
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.builds import (
    Build,
    BuildStatus,
    Detail,
    ManualTriggerInfo,
    OutputLine,
    Retriggered,
    StepRecord,
    StepStatus,
    Trigger,
    TriggerKind,
)
from conveyor.domain.deployments import (
    ActionKind,
    Deployment,
    DeploymentAction,
    DeploymentStatus,
    DeploymentStep,
)
from conveyor.domain.documents import JsonValue
from conveyor.domain.groups import Group
from conveyor.domain.instances import (
    HealthResult,
    Instance,
    InstanceState,
    ResourceLimits,
    TaskFailure,
)
from conveyor.domain.pipelines import PipelineDefinition, Retention

T = TypeVar("T")


def every_field(record: type[T], /, **strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[T]:
    """`st.builds` that insists on a strategy for every field, so that a field added to a record
    cannot go untested by the round trips."""
    missing = {field.name for field in fields(record)} - set(strategies)  # type: ignore[arg-type]
    assert not missing, f"no strategy for {record.__name__} field(s) {sorted(missing)}"
    return st.builds(record, **strategies)


# Offsets other than UTC must read back equal too (the codec keeps the offset).
moments = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
app_ids = st.lists(names, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
texts = st.text(max_size=40)  # any Unicode, control characters included
optional_texts = st.none() | texts
counts = st.integers(min_value=0, max_value=2**31 - 1)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
labels = st.dictionaries(texts, texts, max_size=3)

json_values: st.SearchStrategy[JsonValue] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | numbers | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)

port_definitions = every_field(
    PortDefinition,
    port=st.integers(0, 65535),
    protocol=st.sampled_from(["tcp", "udp", "udp,tcp"]),
    name=st.none() | names,
    labels=labels,
)
health_checks = every_field(
    HealthCheck,
    protocol=st.sampled_from(HealthProtocol),
    path=optional_texts,
    port_index=st.none() | st.integers(0, 5),
    port=st.none() | st.integers(1, 65535),
    command=optional_texts,
    grace_period_seconds=counts,
    interval_seconds=counts,
    timeout_seconds=counts,
    max_consecutive_failures=counts,
    ignore_http1xx=st.booleans(),
    delay_seconds=counts,
)
constraints = every_field(
    Constraint, field=names, operator=st.sampled_from(ConstraintOperator), value=optional_texts
)

apps = every_field(
    AppDefinition,
    id=app_ids,
    version=moments,
    version_info=every_field(VersionInfo, last_scaling_at=moments, last_config_change_at=moments),
    cmd=optional_texts,
    args=st.none() | st.lists(texts, max_size=3).map(tuple),
    user=optional_texts,
    env=json_objects,
    instances=counts,
    cpus=numbers,
    mem=numbers,
    disk=numbers,
    gpus=counts,
    executor=texts,
    constraints=st.lists(constraints, max_size=2).map(tuple),
    uris=st.lists(texts, max_size=2).map(tuple),
    port_definitions=st.lists(port_definitions, max_size=3).map(tuple),
    require_ports=st.booleans(),
    backoff_seconds=numbers,
    backoff_factor=numbers,
    max_launch_delay_seconds=numbers,
    container_image=optional_texts,
    health_checks=st.lists(health_checks, max_size=2).map(tuple),
    dependencies=st.lists(app_ids, max_size=2).map(tuple),
    upgrade_strategy=every_field(
        UpgradeStrategy, minimum_health_capacity=numbers, maximum_over_capacity=numbers
    ),
    labels=labels,
    task_kill_grace_period_seconds=st.none() | numbers,
    kill_selection=st.sampled_from(KillSelection),
    passthrough=json_objects,
)

health_results = every_field(
    HealthResult,
    alive=st.booleans(),
    consecutive_failures=counts,
    first_success=st.none() | moments,
    last_success=st.none() | moments,
    last_failure=st.none() | moments,
    last_failure_cause=optional_texts,
)
resource_limits = every_field(
    ResourceLimits,
    method=st.sampled_from(["cgroup-v2", "cgroup-v1", "rlimit", "none"]),
    mem_bytes=st.none() | counts,
    cpu_shares=st.none() | counts,
    cpu_quota_us=st.none() | counts,
    notes=st.lists(texts, max_size=2).map(tuple),
)
instances = every_field(
    Instance,
    id=names.map(lambda name: f"app.{name}"),
    app_id=app_ids,
    version=moments,
    state=st.sampled_from(InstanceState),
    host=names,
    staged_at=moments,
    ports=st.lists(st.integers(1, 65535), max_size=3).map(tuple),
    started_at=st.none() | moments,
    pid=st.none() | counts,
    pid_start_time=st.none() | numbers,
    health=st.lists(health_results, max_size=2).map(tuple),
    limits=st.none() | resource_limits,
    node=names,
    kill_grace_seconds=numbers,
    exit_code=st.none() | st.integers(-255, 255),
    message=optional_texts,
    updated_at=st.none() | moments,
    labels=labels,
)

version_maps = st.dictionaries(app_ids, st.none() | moments, max_size=3)
deployments = every_field(
    Deployment,
    id=names,
    version=moments,
    steps=st.lists(
        every_field(
            DeploymentStep,
            actions=st.lists(
                every_field(DeploymentAction, kind=st.sampled_from(ActionKind), app_id=app_ids),
                max_size=3,
            ).map(tuple),
        ),
        max_size=3,
    ).map(tuple),
    original=version_maps,
    target=version_maps,
    created_at=moments,
    current_step=counts,
    status=st.sampled_from(DeploymentStatus),
    message=optional_texts,
    is_rollback=st.booleans(),
    step_started_at=st.none() | moments,
    restart_counts=st.dictionaries(app_ids, counts, max_size=3),
)

groups = every_field(
    Group, id=app_ids, version=moments, dependencies=st.lists(app_ids, max_size=3).map(tuple)
)
launch_delays = every_field(
    LaunchDelay,
    app_id=app_ids,
    failures=counts,
    delay_seconds=numbers,
    since=moments,
    until=moments,
    version=moments,
)
task_failures = every_field(
    TaskFailure,
    app_id=app_ids,
    task_id=names,
    state=st.sampled_from(InstanceState),
    message=texts,
    host=names,
    version=moments,
    timestamp=moments,
)

# pipelines, builds, steps and output

pipeline_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
build_numbers = st.integers(min_value=1, max_value=2**53)
step_ids = st.lists(st.integers(1, 999_999), min_size=1, max_size=4).map(tuple)
optional_counts = st.none() | counts

pipelines = every_field(
    PipelineDefinition,
    name=pipeline_names,
    repository=texts,
    branch=texts,
    file=texts,
    secret=optional_texts,
    poll_seconds=optional_counts,
    max_concurrent_builds=counts,
    build_timeout_seconds=optional_counts,
    retention=every_field(Retention, keep_builds=optional_counts, keep_days=optional_counts),
    created_at=st.none() | moments,
)

triggers = every_field(
    Trigger,
    kind=st.sampled_from(TriggerKind),
    by=texts,
    commit=optional_texts,
    ref=optional_texts,
    parameters=json_objects,
)
builds = every_field(
    Build,
    pipeline=pipeline_names,
    number=build_numbers,
    status=st.sampled_from(BuildStatus),
    trigger=triggers,
    created_at=moments,
    started_at=st.none() | moments,
    finished_at=st.none() | moments,
    commit=optional_texts,
    retriggered=st.none() | every_field(Retriggered, number=build_numbers, step=step_ids),
    pipeline_file_digest=optional_texts,
    pipeline_file_changed=st.none() | st.booleans(),
    workspace=optional_texts,
    task_id=optional_texts,
    message=optional_texts,
    reports_applied=counts,
    worker_token=optional_texts,
    failed_steps=st.lists(step_ids, max_size=3).map(tuple),
)


def _details(children: st.SearchStrategy[tuple[Detail, ...]]) -> st.SearchStrategy[Detail]:
    return every_field(
        Detail, label=texts, href=optional_texts, raw=optional_texts, children=children
    )


details = st.recursive(
    _details(st.just(())),
    lambda inner: _details(st.lists(inner, max_size=3).map(tuple)),
    max_leaves=8,
)
manual_triggers = every_field(
    ManualTriggerInfo,
    prompt=texts,
    parameters=json_objects,
    released_by=optional_texts,
    released_parameters=st.none() | json_objects,
    released_at=st.none() | moments,
)
steps = every_field(
    StepRecord,
    pipeline=pipeline_names,
    build=build_numbers,
    step=step_ids,
    name=texts,
    status=st.sampled_from(StepStatus),
    started_at=st.none() | moments,
    finished_at=st.none() | moments,
    details=st.lists(details, max_size=3).map(tuple),
    values=json_objects,
    reused=st.booleans(),
    manual=st.none() | manual_triggers,
    message=optional_texts,
)

# What a process may print, decoded leniently: NUL characters and lone surrogates included.
printed_texts = st.text(st.characters(exclude_categories=()), max_size=80)
output_lines = every_field(OutputLine, seq=st.integers(1, 2**53), at=moments, text=printed_texts)
