"""Apps with their runtime facts (tasks, counts, deployments, last failure), as Marathon shows
them. Reads one snapshot of the store so a page of 1,000 apps costs a handful of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from conveyor.domain.app_json import app_to_json
from conveyor.domain.apps import AppDefinition
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
    deployments: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, TaskFailure] = field(default_factory=dict)

    @classmethod
    def read(cls, tx: Transaction, app_ids: set[str], *, failures: bool) -> Snapshot:
        snapshot = cls()
        for instance in tx.list_instances():
            if instance.app_id in app_ids and not instance.state.is_terminal:
                snapshot.instances[instance.app_id].append(instance)
        for deployment in tx.list_deployments():
            if deployment.is_active:
                for app_id in deployment.affected_apps:
                    snapshot.deployments[app_id].append(deployment.id)
        if failures:
            for app_id in app_ids:
                failure = tx.get_task_failure(app_id)
                if failure is not None:
                    snapshot.failures[app_id] = failure
        return snapshot


def counts(instances: list[Instance]) -> JsonObject:
    staged = running = healthy = unhealthy = 0
    for instance in instances:
        if instance.state in (InstanceState.STAGING, InstanceState.STARTING):
            staged += 1
        elif instance.state is InstanceState.RUNNING:
            running += 1
            if instance.health:
                if all(result.alive for result in instance.health):
                    healthy += 1
                elif any(r.consecutive_failures > 0 for r in instance.health):
                    unhealthy += 1
    return {
        "tasksStaged": staged,
        "tasksRunning": running,
        "tasksHealthy": healthy,
        "tasksUnhealthy": unhealthy,
    }


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
    document = definitions.definition(app)
    instances = snapshot.instances.get(app.id, [])
    if EMBED_COUNTS in embeds:
        document.update(counts(instances))
    if EMBED_DEPLOYMENTS in embeds:
        ids: list[JsonValue] = [{"id": i} for i in snapshot.deployments.get(app.id, [])]
        document["deployments"] = ids
    if EMBED_READINESS in embeds:
        document["readinessCheckResults"] = []
    if EMBED_TASKS in embeds:
        tasks: list[JsonValue] = [
            task_to_json(i, service_ports=app.service_ports) for i in instances
        ]
        document["tasks"] = tasks
    if EMBED_LAST_FAILURE in embeds and app.id in snapshot.failures:
        document["lastTaskFailure"] = task_failure_to_json(snapshot.failures[app.id])
    return document


class ListingCache:
    """Rendered bodies of `GET /v2/apps`, per query, reused while no event has been appended
    since they were rendered. Every change that shows in the listing (app versions, instance
    states, health flips, deployments, failures) appends an event in the same transaction, so
    the newest event id is an exact validator — across servers sharing one database too. Task
    lists are not cached: their health timestamps change without events."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._bodies: dict[str, tuple[int, bytes]] = {}

    def get(self, query: str, event_id: int) -> bytes | None:
        entry = self._bodies.get(query)
        return entry[1] if entry is not None and entry[0] == event_id else None

    def put(self, query: str, event_id: int, body: bytes) -> None:
        if len(self._bodies) >= self._capacity:
            self._bodies.clear()
        self._bodies[query] = (event_id, body)


listings = ListingCache()
