"""`SqlTransaction`: every read and write of the Store port, as SQLAlchemy Core statements on one
connection inside one database transaction (`SqlStore.transaction` begins and ends it).

Apps, groups, deployments, instances, the launch queue, events and settings are here; pipelines,
builds, steps and output in `build_records.py`, which this class is made of too."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, select, text

from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.deployments import Deployment, DeploymentStatus
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.events import Event
from conveyor.domain.groups import Group
from conveyor.domain.instances import Instance, TaskFailure
from conveyor.store import schema
from conveyor.store.build_records import BuildRecords
from conveyor.store.codecs import Codec, json_text
from conveyor.store.decoded import DecodedCache, document_digest, read_listed, read_one
from conveyor.store.protocol import MAX_APP_VERSIONS, OUTCOMES_KEPT_FOR, Transaction

_EVENTS_LOCK = 0x65766E74  # any constant: the PostgreSQL advisory lock that orders event ids


APP = Codec(AppDefinition)
INSTANCE = Codec(Instance)
GROUP = Codec(Group)
DEPLOYMENT = Codec(Deployment)
LAUNCH_DELAY = Codec(LaunchDelay)
TASK_FAILURE = Codec(TaskFailure)

# The statements run on every transaction, built once (see `statements.py`).
_apps, _instances, _events = schema.apps, schema.instances, schema.events
_APP = select(_apps.c.digest, _apps.c.document).where(_apps.c.id == bindparam("key"))
_APP_DIGESTS = select(_apps.c.id, _apps.c.digest).order_by(_apps.c.id)
_INSTANCE = select(_instances.c.digest, _instances.c.document).where(
    _instances.c.id == bindparam("key")
)
_INSTANCE_DIGESTS = select(_instances.c.id, _instances.c.digest).order_by(
    _instances.c.staged_at, _instances.c.id
)
_APP_INSTANCE_DIGESTS = _INSTANCE_DIGESTS.where(_instances.c.app_id == bindparam("app_id"))
_DEPLOYMENTS = select(schema.deployments.c.document).order_by(
    schema.deployments.c.created_at, schema.deployments.c.id
)
_versions = schema.app_versions
_PRUNE_APP_VERSIONS = delete(_versions).where(
    _versions.c.app_id == bindparam("app_id"),
    _versions.c.version
    < (
        select(_versions.c.version)
        .where(_versions.c.app_id == bindparam("app_id"))
        .order_by(_versions.c.version.desc())
        .offset(MAX_APP_VERSIONS - 1)
        .limit(1)
        .scalar_subquery()
    ),
)
_APPEND_EVENT = (
    _events.insert()
    .values(type=bindparam("type"), at=bindparam("at"), payload=bindparam("payload"))
    .returning(_events.c.id)
)
_PRUNE_EVENTS = delete(_events).where(_events.c.id <= bindparam("newest"))
_LOCK_EVENTS = text("SELECT pg_advisory_xact_lock(:key)")
_LAST_EVENT_ID = select(func.max(_events.c.id))
_EVENTS_AFTER = (
    select(_events.c.id, _events.c.type, _events.c.at, _events.c.payload)
    .where(_events.c.id > bindparam("after"))
    .order_by(_events.c.id)
    .limit(bindparam("limit"))
)
_APP_VERSIONS = (
    select(_versions.c.version)
    .where(_versions.c.app_id == bindparam("app_id"))
    .order_by(_versions.c.version.desc())
)
_APP_VERSION = select(_versions.c.document).where(
    _versions.c.app_id == bindparam("app_id"), _versions.c.version == bindparam("version")
)
_GROUPS = select(schema.groups.c.document).order_by(schema.groups.c.id)
_UPDATE_DEPLOYMENT = (
    schema.deployments.update()
    .where(schema.deployments.c.id == bindparam("key"))
    .values(document=bindparam("document"))
)
_outcomes = schema.deployment_outcomes
_PRUNE_OUTCOMES = delete(_outcomes).where(_outcomes.c.ended_at < bindparam("before"))
_LAUNCH_DELAYS = select(schema.launch_delays.c.document).order_by(schema.launch_delays.c.app_id)


@dataclass
class DecodedRecords:
    """What a store keeps decoded between transactions (see `DecodedCache`)."""

    apps: DecodedCache[AppDefinition] = field(default_factory=DecodedCache)
    instances: DecodedCache[Instance] = field(default_factory=DecodedCache)


class SqlTransaction(BuildRecords, Transaction):
    """One open transaction. Not shared between threads; `SqlStore` commits or rolls it back."""

    def __init__(self, connection: Connection, decoded: DecodedRecords) -> None:
        super().__init__(connection)
        self._apps = decoded.apps
        self._instances = decoded.instances
        self.appended: list[Event] = []

    # apps

    def get_app(self, app_id: str) -> AppDefinition | None:
        return read_one(self._run, _APP, app_id, APP, self._apps)

    def list_apps(self) -> list[AppDefinition]:
        return read_listed(
            self._connection, _APP_DIGESTS, _apps, APP, self._apps, run=self._run, whole_table=True
        )

    def put_app(self, app: AppDefinition) -> None:
        document = APP.dumps(app)
        values = {"id": app.id, "version": app.version, "document": document}
        self._upsert(schema.apps, {**values, "digest": document_digest(document)})
        self._upsert(
            schema.app_versions,
            {"app_id": app.id, "version": app.version, "document": document},
        )
        self._run(_PRUNE_APP_VERSIONS, {"app_id": app.id})

    def delete_app(self, app_id: str) -> None:
        self._delete(schema.apps, "id", app_id)
        self._apps.forget(app_id)
        self.delete_launch_delay(app_id)
        self._delete(schema.task_failures, "app_id", app_id)

    def list_app_versions(self, app_id: str) -> list[datetime]:
        return list(self._connection.execute(_APP_VERSIONS, {"app_id": app_id}).scalars())

    def get_app_version(self, app_id: str, version: datetime) -> AppDefinition | None:
        document = self._scalar(_APP_VERSION, {"app_id": app_id, "version": version})
        return None if document is None else APP.loads(document)

    # groups

    def list_groups(self) -> list[Group]:
        return [GROUP.loads(document) for (document,) in self._run(_GROUPS).fetchall()]

    def put_group(self, group: Group) -> None:
        self._upsert(schema.groups, {"id": group.id, "document": GROUP.dumps(group)})

    def delete_group(self, group_id: str) -> None:
        self._delete(schema.groups, "id", group_id)

    # deployments

    def get_deployment(self, deployment_id: str) -> Deployment | None:
        document = self._value_of(schema.deployments, "document", where="id", key=deployment_id)
        return None if document is None else DEPLOYMENT.loads(document)

    def list_deployments(self) -> list[Deployment]:
        rows = self._run(_DEPLOYMENTS).fetchall()
        return [DEPLOYMENT.loads(document) for (document,) in rows]

    def put_deployment(self, deployment: Deployment) -> None:
        values = {
            "id": deployment.id,
            "created_at": deployment.created_at,
            "document": DEPLOYMENT.dumps(deployment),
        }
        self._upsert(schema.deployments, values)

    def update_deployment(self, deployment: Deployment) -> bool:
        values = {"key": deployment.id, "document": DEPLOYMENT.dumps(deployment)}
        rowcount: int = self._run(_UPDATE_DEPLOYMENT, values).rowcount
        return rowcount > 0

    def delete_deployment(self, deployment_id: str) -> bool:
        return self._delete(schema.deployments, "id", deployment_id) > 0

    def put_deployment_outcome(
        self, deployment_id: str, status: DeploymentStatus, *, at: datetime
    ) -> None:
        values = {"id": deployment_id, "status": status.value, "ended_at": at}
        self._upsert(schema.deployment_outcomes, values)
        self._run(_PRUNE_OUTCOMES, {"before": at - OUTCOMES_KEPT_FOR})

    def get_deployment_outcome(self, deployment_id: str) -> DeploymentStatus | None:
        status = self._value_of(_outcomes, "status", where="id", key=deployment_id)
        return None if status is None else DeploymentStatus(status)

    # instances

    def get_instance(self, instance_id: str) -> Instance | None:
        return read_one(self._run, _INSTANCE, instance_id, INSTANCE, self._instances)

    def list_instances(self, app_id: str | None = None) -> list[Instance]:
        if app_id is None:
            query, parameters = _INSTANCE_DIGESTS, None
        else:
            query, parameters = _APP_INSTANCE_DIGESTS, {"app_id": app_id}
        return read_listed(
            self._connection,
            query,
            _instances,
            INSTANCE,
            self._instances,
            run=self._run,
            parameters=parameters,
            whole_table=app_id is None,
        )

    def put_instance(self, instance: Instance) -> None:
        document = INSTANCE.dumps(instance)
        values = {
            "id": instance.id,
            "app_id": instance.app_id,
            "staged_at": instance.staged_at,
            "digest": document_digest(document),
            "document": document,
        }
        self._upsert(schema.instances, values)

    def delete_instance(self, instance_id: str) -> None:
        self._delete(schema.instances, "id", instance_id)
        self._instances.forget(instance_id)

    # launch queue

    def get_launch_delay(self, app_id: str) -> LaunchDelay | None:
        document = self._value_of(schema.launch_delays, "document", where="app_id", key=app_id)
        return None if document is None else LAUNCH_DELAY.loads(document)

    def list_launch_delays(self) -> list[LaunchDelay]:
        rows = self._run(_LAUNCH_DELAYS).fetchall()
        return [LAUNCH_DELAY.loads(document) for (document,) in rows]

    def put_launch_delay(self, delay: LaunchDelay) -> None:
        values = {"app_id": delay.app_id, "document": LAUNCH_DELAY.dumps(delay)}
        self._upsert(schema.launch_delays, values)

    def delete_launch_delay(self, app_id: str) -> None:
        self._delete(schema.launch_delays, "app_id", app_id)

    def get_task_failure(self, app_id: str) -> TaskFailure | None:
        document = self._value_of(schema.task_failures, "document", where="app_id", key=app_id)
        return None if document is None else TASK_FAILURE.loads(document)

    def put_task_failure(self, failure: TaskFailure) -> None:
        values = {"app_id": failure.app_id, "document": TASK_FAILURE.dumps(failure)}
        self._upsert(schema.task_failures, values)

    # events

    def append_event(self, event_type: str, payload: JsonObject, *, at: datetime) -> int:
        if self._postgres and not self.appended:
            # Ids come from a sequence when the row is inserted, but become visible when the
            # transaction commits: serialising event writers makes id order the commit order,
            # so a reader of list_events(after=...) never skips an id that commits late.
            self._run(_LOCK_EVENTS, {"key": _EVENTS_LOCK})
        document = json_text(payload)
        row = {"type": event_type, "at": at, "payload": document}
        event_id: int = self._run(_APPEND_EVENT, row).fetchone()[0]
        stored = schema.from_microseconds(schema.to_microseconds(at))
        self.appended.append(Event(event_id, event_type, stored, json.loads(document)))
        return event_id

    def list_events(self, *, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = self._connection.execute(_EVENTS_AFTER, {"after": after, "limit": limit}).all()
        return [Event(id_, type_, at, json.loads(payload)) for id_, type_, at, payload in rows]

    def last_event_id(self) -> int:
        newest = self._connection.execute(_LAST_EVENT_ID).scalar()
        return int(newest or 0)

    def prune_events(self, *, keep: int) -> None:
        """Forget events more than `keep` ids older than the newest appended here."""
        if self.appended:
            newest = self.appended[-1].id
            self._run(_PRUNE_EVENTS, {"newest": newest - keep})

    # settings

    def get_value(self, key: str) -> JsonValue:
        document = self._value_of(schema.settings, "value", where="key", key=key)
        if document is None:
            return None
        value: JsonValue = json.loads(document)
        return value

    def put_value(self, key: str, value: JsonValue) -> None:
        self._upsert(schema.settings, {"key": key, "value": json_text(value)})

    def delete_values(self, *keys: str, prefix: str | None = None) -> None:
        for key in keys:
            self._delete(schema.settings, "key", key)
        if prefix is not None:
            settings = schema.settings
            self._connection.execute(
                delete(settings).where(settings.c.key.startswith(prefix, autoescape=True))
            )
