"""`SqlTransaction`: every read and write of the Store port, as SQLAlchemy Core statements on one
connection inside one database transaction (`SqlStore.transaction` begins and ends it).

Apps, groups, deployments, instances, the launch queue, events and settings are here; pipelines,
builds, steps and output in `build_records.py`, which this class is made of too."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, text

from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.deployments import Deployment
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.events import Event
from conveyor.domain.groups import Group
from conveyor.domain.instances import Instance, TaskFailure
from conveyor.store import schema
from conveyor.store.build_records import BuildRecords
from conveyor.store.codecs import Codec
from conveyor.store.decoded import DecodedCache, document_digest, read_listed, read_one
from conveyor.store.protocol import MAX_APP_VERSIONS, Transaction

_EVENTS_LOCK = 0x65766E74  # any constant: the PostgreSQL advisory lock that orders event ids


def _dumps(value: JsonValue) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


APP = Codec(AppDefinition)
INSTANCE = Codec(Instance)
GROUP = Codec(Group)
DEPLOYMENT = Codec(Deployment)
LAUNCH_DELAY = Codec(LaunchDelay)
TASK_FAILURE = Codec(TaskFailure)


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
        query = select(schema.apps.c.digest, schema.apps.c.document)
        return read_one(
            self._connection, query.where(schema.apps.c.id == app_id), app_id, APP, self._apps
        )

    def list_apps(self) -> list[AppDefinition]:
        table = schema.apps
        query = select(table.c.id, table.c.digest).order_by(table.c.id)
        return read_listed(self._connection, query, table, APP, self._apps, whole_table=True)

    def put_app(self, app: AppDefinition) -> None:
        document = APP.dumps(app)
        values = {"id": app.id, "version": app.version, "document": document}
        self._upsert(schema.apps, {**values, "digest": document_digest(document)})
        self._upsert(
            schema.app_versions,
            {"app_id": app.id, "version": app.version, "document": document},
        )
        self._prune_app_versions(app.id)

    def _prune_app_versions(self, app_id: str) -> None:
        versions = schema.app_versions
        oldest_kept = (
            select(versions.c.version)
            .where(versions.c.app_id == app_id)
            .order_by(versions.c.version.desc())
            .offset(MAX_APP_VERSIONS - 1)
            .limit(1)
            .scalar_subquery()
        )
        self._connection.execute(
            delete(versions).where(versions.c.app_id == app_id, versions.c.version < oldest_kept)
        )

    def delete_app(self, app_id: str) -> None:
        self._connection.execute(delete(schema.apps).where(schema.apps.c.id == app_id))
        self._apps.forget(app_id)
        self.delete_launch_delay(app_id)
        self._delete(schema.task_failures, schema.task_failures.c.app_id, app_id)

    def list_app_versions(self, app_id: str) -> list[datetime]:
        versions = schema.app_versions
        query = (
            select(versions.c.version)
            .where(versions.c.app_id == app_id)
            .order_by(versions.c.version.desc())
        )
        return list(self._connection.execute(query).scalars())

    def get_app_version(self, app_id: str, version: datetime) -> AppDefinition | None:
        versions = schema.app_versions
        query = select(versions.c.document).where(
            versions.c.app_id == app_id, versions.c.version == version
        )
        document = self._scalar(query)
        return None if document is None else APP.loads(document)

    # groups

    def list_groups(self) -> list[Group]:
        query = select(schema.groups.c.document).order_by(schema.groups.c.id)
        return [GROUP.loads(document) for document in self._connection.execute(query).scalars()]

    def put_group(self, group: Group) -> None:
        self._upsert(schema.groups, {"id": group.id, "document": GROUP.dumps(group)})

    def delete_group(self, group_id: str) -> None:
        self._delete(schema.groups, schema.groups.c.id, group_id)

    # deployments

    def get_deployment(self, deployment_id: str) -> Deployment | None:
        table = schema.deployments
        document = self._scalar(select(table.c.document).where(table.c.id == deployment_id))
        return None if document is None else DEPLOYMENT.loads(document)

    def list_deployments(self) -> list[Deployment]:
        table = schema.deployments
        query = select(table.c.document).order_by(table.c.created_at, table.c.id)
        documents = self._connection.execute(query).scalars()
        return [DEPLOYMENT.loads(document) for document in documents]

    def put_deployment(self, deployment: Deployment) -> None:
        values = {
            "id": deployment.id,
            "created_at": deployment.created_at,
            "document": DEPLOYMENT.dumps(deployment),
        }
        self._upsert(schema.deployments, values)

    def delete_deployment(self, deployment_id: str) -> None:
        self._delete(schema.deployments, schema.deployments.c.id, deployment_id)

    # instances

    def get_instance(self, instance_id: str) -> Instance | None:
        table = schema.instances
        query = select(table.c.digest, table.c.document).where(table.c.id == instance_id)
        return read_one(self._connection, query, instance_id, INSTANCE, self._instances)

    def list_instances(self, app_id: str | None = None) -> list[Instance]:
        table = schema.instances
        query = select(table.c.id, table.c.digest).order_by(table.c.staged_at, table.c.id)
        if app_id is not None:
            query = query.where(table.c.app_id == app_id)
        return read_listed(
            self._connection, query, table, INSTANCE, self._instances, whole_table=app_id is None
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
        self._delete(schema.instances, schema.instances.c.id, instance_id)
        self._instances.forget(instance_id)

    # launch queue

    def get_launch_delay(self, app_id: str) -> LaunchDelay | None:
        table = schema.launch_delays
        document = self._scalar(select(table.c.document).where(table.c.app_id == app_id))
        return None if document is None else LAUNCH_DELAY.loads(document)

    def list_launch_delays(self) -> list[LaunchDelay]:
        table = schema.launch_delays
        query = select(table.c.document).order_by(table.c.app_id)
        return [LAUNCH_DELAY.loads(text) for text in self._connection.execute(query).scalars()]

    def put_launch_delay(self, delay: LaunchDelay) -> None:
        values = {"app_id": delay.app_id, "document": LAUNCH_DELAY.dumps(delay)}
        self._upsert(schema.launch_delays, values)

    def delete_launch_delay(self, app_id: str) -> None:
        self._delete(schema.launch_delays, schema.launch_delays.c.app_id, app_id)

    def get_task_failure(self, app_id: str) -> TaskFailure | None:
        table = schema.task_failures
        document = self._scalar(select(table.c.document).where(table.c.app_id == app_id))
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
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENTS_LOCK}
            )
        document = _dumps(payload)
        row = {"type": event_type, "at": at, "payload": document}
        insert = schema.events.insert().values(row).returning(schema.events.c.id)
        event_id: int = self._connection.execute(insert).scalar_one()
        stored = schema.from_microseconds(schema.to_microseconds(at))
        self.appended.append(Event(event_id, event_type, stored, json.loads(document)))
        return event_id

    def list_events(self, *, after: int = 0, limit: int = 1000) -> list[Event]:
        table = schema.events
        query = (
            select(table.c.id, table.c.type, table.c.at, table.c.payload)
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(limit)
        )
        rows = self._connection.execute(query).all()
        return [Event(id_, type_, at, json.loads(payload)) for id_, type_, at, payload in rows]

    def last_event_id(self) -> int:
        newest = self._connection.execute(select(func.max(schema.events.c.id))).scalar()
        return int(newest or 0)

    def prune_events(self, *, keep: int) -> None:
        """Forget events more than `keep` ids older than the newest appended here."""
        if self.appended:
            newest = self.appended[-1].id
            self._connection.execute(
                delete(schema.events).where(schema.events.c.id <= newest - keep)
            )

    # settings

    def get_value(self, key: str) -> JsonValue:
        document = self._scalar(select(schema.settings.c.value).where(schema.settings.c.key == key))
        if document is None:
            return None
        value: JsonValue = json.loads(document)
        return value

    def put_value(self, key: str, value: JsonValue) -> None:
        self._upsert(schema.settings, {"key": key, "value": _dumps(value)})
