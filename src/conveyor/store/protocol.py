"""The persistence port. Every read and write happens inside a transaction:

    with store.transaction() as tx:
        tx.put_app(app)
        tx.put_deployment(deployment)
        tx.append_event("deployment_info", payload, at=now)

Either all of it is stored or none of it. Events appended in a transaction are delivered to
`Store.subscribe` listeners after the commit, so a listener never sees an event whose state is
not yet visible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.builds import Build, OutputLine, StepId, StepRecord
from conveyor.domain.deployments import Deployment, DeploymentStatus
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.events import Event
from conveyor.domain.groups import Group
from conveyor.domain.instances import Instance, TaskFailure
from conveyor.domain.pipelines import PipelineDefinition

MAX_APP_VERSIONS = 50
OUTCOMES_KEPT_FOR = timedelta(days=7)


class Transaction(Protocol):
    # apps: the current definition of each app, and its history (newest MAX_APP_VERSIONS kept)
    def get_app(self, app_id: str) -> AppDefinition | None: ...
    def list_apps(self) -> list[AppDefinition]: ...
    def put_app(self, app: AppDefinition) -> None:
        """Make `app` the current definition and record its version (idempotent per version)."""
        ...

    def delete_app(self, app_id: str) -> None:
        """Forget the app, its versions, delay and last failure (instances are separate)."""
        ...

    def list_app_versions(self, app_id: str) -> list[datetime]:
        """Newest first."""
        ...

    def get_app_version(self, app_id: str, version: datetime) -> AppDefinition | None: ...

    # groups that exist on their own (empty, or with dependencies)
    def list_groups(self) -> list[Group]: ...
    def put_group(self, group: Group) -> None: ...
    def delete_group(self, group_id: str) -> None: ...

    # deployments
    def get_deployment(self, deployment_id: str) -> Deployment | None: ...
    def list_deployments(self) -> list[Deployment]:
        """Oldest first."""
        ...

    def put_deployment(self, deployment: Deployment) -> None: ...
    def update_deployment(self, deployment: Deployment) -> bool:
        """Store `deployment` only if it is still stored (not cancelled or ended meanwhile);
        whether it was."""
        ...

    def delete_deployment(self, deployment_id: str) -> bool:
        """Whether it was stored."""
        ...

    def put_deployment_outcome(
        self, deployment_id: str, status: DeploymentStatus, *, at: datetime
    ) -> None:
        """How an ended deployment ended, kept `OUTCOMES_KEPT_FOR`; older ones are forgotten."""
        ...

    def get_deployment_outcome(self, deployment_id: str) -> DeploymentStatus | None: ...

    # instances (Marathon's tasks)
    def get_instance(self, instance_id: str) -> Instance | None: ...
    def list_instances(self, app_id: str | None = None) -> list[Instance]:
        """Ordered by staged time, then id."""
        ...

    def put_instance(self, instance: Instance) -> None: ...
    def delete_instance(self, instance_id: str) -> None: ...

    # launch queue: backoff delays and last failures per app
    def get_launch_delay(self, app_id: str) -> LaunchDelay | None: ...
    def list_launch_delays(self) -> list[LaunchDelay]: ...
    def put_launch_delay(self, delay: LaunchDelay) -> None: ...
    def delete_launch_delay(self, app_id: str) -> None: ...
    def get_task_failure(self, app_id: str) -> TaskFailure | None: ...
    def put_task_failure(self, failure: TaskFailure) -> None: ...

    # events, in append order; ids increase
    def append_event(self, event_type: str, payload: JsonObject, *, at: datetime) -> int: ...
    def list_events(self, *, after: int = 0, limit: int = 1000) -> list[Event]: ...
    def last_event_id(self) -> int:
        """The newest event's id (0 when none): every change to apps, instances and
        deployments appends an event, so this tells whether any happened since."""
        ...

    # pipelines, their builds, steps and output
    def get_pipeline(self, name: str) -> PipelineDefinition | None: ...
    def list_pipelines(self) -> list[PipelineDefinition]:
        """By name."""
        ...

    def put_pipeline(self, pipeline: PipelineDefinition) -> None: ...
    def delete_pipeline(self, name: str) -> None:
        """Forget the pipeline with all its builds, steps and output."""
        ...

    def next_build_number(self, pipeline: str) -> int:
        """The number the next build of `pipeline` gets: 1, 2, ... never reused, even after
        builds are pruned or the pipeline is re-registered."""
        ...

    def put_build(self, build: Build) -> None: ...
    def get_build(self, pipeline: str, number: int) -> Build | None: ...
    def list_builds(
        self, pipeline: str, *, before: int | None = None, limit: int = 50
    ) -> list[Build]:
        """Newest first; `before` pages: builds numbered below it."""
        ...

    def list_unfinished_builds(self) -> list[Build]:
        """Builds of every pipeline that are queued, running or waiting; oldest first."""
        ...

    def prune_builds(
        self, pipeline: str, *, keep: int | None, finished_before: datetime | None
    ) -> list[int]:
        """Delete finished builds beyond the newest `keep` and those finished before
        `finished_before`, with their steps and output; returns their numbers. Unfinished
        builds are never pruned."""
        ...

    def put_step(self, step: StepRecord) -> None: ...
    def get_step(self, pipeline: str, number: int, step: StepId) -> StepRecord | None: ...
    def list_steps(self, pipeline: str, number: int) -> list[StepRecord]:
        """In step order: (1,), (2,), (2, 1), (2, 2), (3,) ..."""
        ...

    def append_output(
        self, pipeline: str, number: int, step: StepId, lines: Sequence[OutputLine]
    ) -> None:
        """Store lines; a line whose `seq` is already stored for that step is ignored."""
        ...

    def list_output(
        self, pipeline: str, number: int, step: StepId, *, after: int = 0, limit: int = 1000
    ) -> list[OutputLine]:
        """Lines with `seq` above `after`, in order, at most `limit`."""
        ...

    # small settings and facts (leader, schema notes, counters)
    def get_value(self, key: str) -> JsonValue: ...
    def put_value(self, key: str, value: JsonValue) -> None: ...
    def delete_values(self, *keys: str, prefix: str | None = None) -> None:
        """Forget `keys`, and every key that starts with `prefix` when given."""
        ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def subscribe(self) -> AsyncIterator[Sequence[Event]]:
        """Batches of events as transactions that appended them commit (in this process)."""
        ...

    def close(self) -> None: ...
