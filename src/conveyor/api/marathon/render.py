"""Apps with their runtime facts (tasks, counts, deployments, last failure), as Marathon shows
them. Reads one snapshot of the store so a page of 1,000 apps costs a handful of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from conveyor.domain.app_json import app_to_json
from conveyor.domain.apps import AppDefinition
from conveyor.domain.deployments import Deployment
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.instances import Instance, InstanceState, TaskFailure
from conveyor.domain.task_json import task_failure_to_json, task_to_json
from conveyor.store import Transaction

EMBED_TASKS = "tasks"
EMBED_COUNTS = "counts"
EMBED_DEPLOYMENTS = "deployments"
EMBED_LAST_FAILURE = "lastTaskFailure"
EMBED_READINESS = "readiness"
EMBED_TASK_STATS = "taskStats"

ALWAYS_FOR_LIST = frozenset({EMBED_COUNTS, EMBED_DEPLOYMENTS})
ALWAYS_FOR_ONE = frozenset({EMBED_COUNTS, EMBED_DEPLOYMENTS, EMBED_TASKS, EMBED_LAST_FAILURE})


def parse_embeds(values: Iterable[str]) -> set[str]:
    """`embed=apps.tasks` / `app.tasks` / `group.apps.tasks` ... → {"tasks"}."""
    embeds = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().rsplit(".", 1)[-1]
            if name:
                embeds.add(name)
    return embeds


@dataclass
class Snapshot:
    """What rendering apps needs, read in one transaction."""

    instances: dict[str, list[Instance]] = field(default_factory=lambda: defaultdict(list))
    deployments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    failures: dict[str, TaskFailure] = field(default_factory=dict)

    @classmethod
    def read(cls, tx: Transaction, app_ids: set[str], *, failures: bool) -> Snapshot:
        snapshot = cls(
            deployments=deployments_by_app(tx.list_deployments()),
            failures=read_failures(tx, app_ids) if failures else {},
        )
        for instance in tx.list_instances():
            if instance.app_id in app_ids and not instance.state.is_terminal:
                snapshot.instances[instance.app_id].append(instance)
        return snapshot


def deployments_by_app(deployments: Iterable[Deployment]) -> dict[str, tuple[str, ...]]:
    by_app: dict[str, list[str]] = defaultdict(list)
    for deployment in deployments:
        if deployment.is_active:
            for app_id in deployment.affected_apps:
                by_app[app_id].append(deployment.id)
    return {app_id: tuple(ids) for app_id, ids in by_app.items()}


def read_failures(tx: Transaction, app_ids: Iterable[str]) -> dict[str, TaskFailure]:
    failures = {}
    for app_id in app_ids:
        failure = tx.get_task_failure(app_id)
        if failure is not None:
            failures[app_id] = failure
    return failures


class Counts(NamedTuple):
    """An app's instances by state, as `tasksStaged`, `tasksRunning`, `tasksHealthy` and
    `tasksUnhealthy` show them."""

    staged: int = 0
    running: int = 0
    healthy: int = 0
    unhealthy: int = 0

    @classmethod
    def of(cls, instances: Iterable[Instance]) -> Counts:
        """The counts of `instances`, all of one app."""
        return next(iter(count_by_app(instances).values()), cls())

    def to_json(self) -> JsonObject:
        return {
            "tasksStaged": self.staged,
            "tasksRunning": self.running,
            "tasksHealthy": self.healthy,
            "tasksUnhealthy": self.unhealthy,
        }


# Module constants: looking a member up on its enum class costs ten times as much, per instance.
_RUNNING, _STAGING, _STARTING = InstanceState.RUNNING, InstanceState.STAGING, InstanceState.STARTING


def count_by_app(instances: Iterable[Instance]) -> dict[str, Counts]:
    """The counts of every app that has instances among `instances`. An instance is healthy
    when every check is alive, unhealthy when not and a check has failed. (Plain loops: this runs
    for each of 10,000 instances when the listing reads them all.)"""
    tallies: dict[str, list[int]] = {}
    for instance in instances:
        tally = tallies.get(instance.app_id)
        if tally is None:
            tally = tallies[instance.app_id] = [0, 0, 0, 0]  # staged, running, (un)healthy
        state = instance.state
        if state is _RUNNING:
            tally[1] += 1
            if instance.health:
                alive, failing = True, False
                for result in instance.health:
                    alive = alive and result.alive
                    failing = failing or result.consecutive_failures > 0
                if alive:
                    tally[2] += 1
                elif failing:
                    tally[3] += 1
        elif state is _STAGING or state is _STARTING:
            tally[0] += 1
    return {app_id: Counts(*tally) for app_id, tally in tallies.items()}


class AppFacts(NamedTuple):
    """What an app's entry shows besides its definition and tasks: everything its rendering
    depends on, so equal facts of the same definition render the same bytes."""

    counts: Counts
    deployment_ids: tuple[str, ...]
    failure: TaskFailure | None


class DefinitionCache:
    """`app_to_json` per app version: a version never changes, and rendering 1,000 apps for
    every `GET /v2/apps` would otherwise cost more than reading them. Callers get a shallow copy
    to add their keys to; the nested values are shared and never modified."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._documents: dict[tuple[str, datetime], JsonObject] = {}

    def definition(self, app: AppDefinition) -> JsonObject:
        key = (app.id, app.version)
        document = self._documents.get(key)
        if document is None:
            if len(self._documents) >= self._capacity:
                self._documents.clear()
            document = self._documents[key] = app_to_json(app)
        return dict(document)


definitions = DefinitionCache()


def render_app(app: AppDefinition, snapshot: Snapshot, embeds: set[str]) -> JsonObject:
    instances = snapshot.instances.get(app.id, [])
    facts = AppFacts(
        Counts.of(instances),
        snapshot.deployments.get(app.id, ()),
        snapshot.failures.get(app.id),
    )
    tasks: list[JsonValue] | None = None
    if EMBED_TASKS in embeds:
        tasks = [task_to_json(i, service_ports=app.service_ports) for i in instances]
    return render_app_facts(app, facts, embeds, tasks=tasks)


def render_app_facts(
    app: AppDefinition,
    facts: AppFacts,
    embeds: Collection[str],
    *,
    tasks: list[JsonValue] | None = None,
) -> JsonObject:
    """An app's entry; `tasks` are shown when given (the caller renders them for `embed=tasks`)."""
    document = definitions.definition(app)
    if EMBED_COUNTS in embeds:
        document.update(facts.counts.to_json())
    if EMBED_DEPLOYMENTS in embeds:
        document["deployments"] = [{"id": i} for i in facts.deployment_ids]
    if EMBED_READINESS in embeds:
        document["readinessCheckResults"] = []
    if tasks is not None:
        document["tasks"] = tasks
    if EMBED_LAST_FAILURE in embeds and facts.failure is not None:
        document["lastTaskFailure"] = task_failure_to_json(facts.failure)
    return document
