"""`GET /v2/apps` shows every change in the first listing after it, although a server keeps what
it rendered between listings: counts, deployments, new and deleted apps, health flips and last
failures; changes made through another server on the same database; after events it does not
interpret or that were pruned. Each listing is also compared, byte for byte, with the listing of
a server that has just started on the same database."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conveyor.domain.apps import AppDefinition, HealthCheck, VersionInfo
from conveyor.domain.deployments import DeploymentStatus
from conveyor.domain.event_json import (
    deployment_ended_event,
    failed_health_check_event,
    health_status_changed_event,
    status_update_event,
)
from conveyor.domain.health import record_health_outcome
from conveyor.domain.instances import HealthResult, Instance, InstanceState, TaskFailure
from conveyor.store.sql import SqlStore
from tests.api.conftest import serving

OpenStore = Callable[..., SqlStore]

HEALTH_CHECK = {"protocol": "COMMAND", "command": {"value": "true"}}


def create_app(api: httpx.Client, app_id: str, **fields: Any) -> str:
    """POST the app (with 2 instances of `sleep 600` unless told), forced; its deployment's id."""
    body = {"id": app_id, "cmd": "sleep 600", "instances": 2, **fields}
    response = api.post("/v2/apps?force=true", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["deployments"][0]["id"])


def scale(api: httpx.Client, app_id: str, instances: int) -> str:
    response = api.put(f"/v2/apps{app_id}?force=true", json={"instances": instances})
    assert response.status_code == 200, response.text
    return str(response.json()["deploymentId"])


def listing(api: httpx.Client, query: str = "") -> bytes:
    response = api.get(f"/v2/apps?{query}" if query else "/v2/apps")
    assert response.status_code == 200, response.text
    return response.content


def apps_by_id(api: httpx.Client, query: str = "") -> dict[str, dict[str, Any]]:
    apps: list[dict[str, Any]] = json.loads(listing(api, query))["apps"]
    return {app["id"]: app for app in apps}


def counts(app: dict[str, Any]) -> tuple[int, int, int, int]:
    return app["tasksStaged"], app["tasksRunning"], app["tasksHealthy"], app["tasksUnhealthy"]


def deployment_ids(app: dict[str, Any]) -> list[str]:
    return [deployment["id"] for deployment in app["deployments"]]


def listing_of_a_new_server(open_store: OpenStore, query: str = "") -> bytes:
    """What a server that has just started on the same database lists."""
    with serving(open_store()) as fresh:
        return listing(fresh, query)


# State changes made as the controllers make them: the record and its event in one transaction.


def stage_record(app_id: str, number: int, *, checks: int = 0) -> Instance:
    """A new STAGING instance, numbered within its app."""
    now = datetime.now(UTC)
    return Instance(
        id=f"{app_id.strip('/').replace('/', '_')}.{number:08d}-0000-4000-8000-000000000000",
        app_id=app_id,
        version=now,
        state=InstanceState.STAGING,
        host="127.0.0.1",
        staged_at=now,
        health=tuple(HealthResult() for _ in range(checks)),
    )


def stage(store: SqlStore, app_id: str, number: int, *, checks: int = 0) -> Instance:
    return store_instance(store, stage_record(app_id, number, checks=checks))


def store_instance(store: SqlStore, instance: Instance) -> Instance:
    """The instance's new state and its status update (`InstanceLifecycle`)."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        tx.put_instance(instance)
        tx.append_event("status_update_event", status_update_event(instance, at=now), at=now)
    return instance


def run(store: SqlStore, instance: Instance) -> Instance:
    return store_instance(store, replace(instance, state=InstanceState.RUNNING, pid=4242))


def record_health(store: SqlStore, instance_id: str, *, healthy: bool) -> None:
    """One outcome of the instance's first health check (`HealthController._record`)."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        current = tx.get_instance(instance_id)
        assert current is not None
        before = current.health[0]
        cause = None if healthy else "exit status 1"
        after = record_health_outcome(before, healthy=healthy, cause=cause, now=now)
        updated = replace(current, health=(after, *current.health[1:]))
        tx.put_instance(updated)
        if not healthy:
            payload = failed_health_check_event(updated, health_check=HEALTH_CHECK, at=now)
            tx.append_event("failed_health_check_event", payload, at=now)
        if before.alive != after.alive or (before.first_success is None and healthy):
            payload = health_status_changed_event(updated, alive=healthy, at=now)
            tx.append_event("health_status_changed_event", payload, at=now)


def record_failed_end(store: SqlStore, instance: Instance) -> None:
    """The instance exited with status 1 (`InstanceLifecycle.record_exit`)."""
    now = datetime.now(UTC)
    message = "Command exited with status 1"
    ended = replace(instance, state=InstanceState.FAILED, exit_code=1, message=message)
    with store.transaction() as tx:
        tx.delete_instance(instance.id)
        payload = status_update_event(ended, at=now, message=message)
        tx.append_event("status_update_event", payload, at=now)
        failure = TaskFailure(
            instance.app_id, instance.id, ended.state, message, instance.host, instance.version, now
        )
        tx.put_task_failure(failure)


def finish_deployment(store: SqlStore, deployment_id: str) -> None:
    """The deployment succeeded (`DeploymentRunner._finish`)."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        deployment = tx.get_deployment(deployment_id)
        assert deployment is not None
        tx.delete_deployment(deployment_id)
        tx.put_deployment_outcome(deployment_id, DeploymentStatus.SUCCEEDED, at=now)
        finished = replace(deployment, status=DeploymentStatus.SUCCEEDED)
        payload = deployment_ended_event(finished, success=True, at=now)
        tx.append_event("deployment_success", payload, at=now)


def test_counts_change_in_the_first_listing_after_an_instance_changes(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    create_app(api, "/web", instances=3)
    staged = [stage(store, "/web", number) for number in range(3)]
    assert counts(apps_by_id(api)["/web"]) == (3, 0, 0, 0)
    assert counts(apps_by_id(api)["/web"]) == (3, 0, 0, 0)  # nothing changed in between

    running = [run(store, instance) for instance in staged[:2]]
    assert counts(apps_by_id(api)["/web"]) == (1, 2, 0, 0)

    killed = api.delete(f"/v2/apps/web/tasks/{running[0].id}")
    assert killed.status_code == 200, killed.text
    assert counts(apps_by_id(api)["/web"]) == (1, 1, 0, 0)
    assert listing(api) == listing_of_a_new_server(open_store)


def test_a_health_flip_shows_in_the_first_listing_after_it(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    create_app(api, "/web", healthChecks=[HEALTH_CHECK])
    create_app(api, "/other")
    first, second = (run(store, stage(store, "/web", n, checks=1)) for n in range(2))
    assert counts(apps_by_id(api)["/web"]) == (0, 2, 0, 0)

    record_health(store, first.id, healthy=True)
    assert counts(apps_by_id(api)["/web"]) == (0, 2, 1, 0)
    record_health(store, second.id, healthy=True)
    assert counts(apps_by_id(api)["/web"]) == (0, 2, 2, 0)

    record_health(store, first.id, healthy=False)
    assert counts(apps_by_id(api)["/web"]) == (0, 2, 1, 1)
    record_health(store, first.id, healthy=True)
    assert counts(apps_by_id(api)["/web"]) == (0, 2, 2, 0)
    assert counts(apps_by_id(api)["/other"]) == (0, 0, 0, 0)
    assert listing(api) == listing_of_a_new_server(open_store)


def test_deployments_show_as_they_start_and_end(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    created = create_app(api, "/web")
    create_app(api, "/other")
    assert deployment_ids(apps_by_id(api)["/web"]) == [created]

    scaled = scale(api, "/web", 5)  # forced: the first deployment is canceled
    web = apps_by_id(api)["/web"]
    assert (deployment_ids(web), web["instances"]) == ([scaled], 5)

    finish_deployment(store, scaled)
    apps = apps_by_id(api)
    assert deployment_ids(apps["/web"]) == []
    assert len(deployment_ids(apps["/other"])) == 1
    assert listing(api) == listing_of_a_new_server(open_store)


def test_a_changed_definition_shows_in_the_first_listing_after_it(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    finish_deployment(store, create_app(api, "/web"))
    assert apps_by_id(api)["/web"]["cmd"] == "sleep 600"

    changed = api.put("/v2/apps/web?force=true", json={"cmd": "sleep 900"})
    assert changed.status_code == 200, changed.text
    finish_deployment(store, changed.json()["deploymentId"])  # the same facts as before
    assert apps_by_id(api)["/web"]["cmd"] == "sleep 900"
    assert listing(api) == listing_of_a_new_server(open_store)


def test_a_new_app_shows_in_the_first_listing_after_it_is_created(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    create_app(api, "/web")
    run(store, stage(store, "/web", 0))
    assert list(apps_by_id(api)) == ["/web"]

    create_app(api, "/api/backend", instances=1)
    run(store, stage(store, "/api/backend", 0))
    apps = apps_by_id(api)
    assert list(apps) == ["/api/backend", "/web"]
    assert counts(apps["/api/backend"]) == (0, 1, 0, 0)
    assert listing(api) == listing_of_a_new_server(open_store)


def test_a_deleted_app_is_gone_from_the_first_listing_after_it(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    create_app(api, "/web")
    create_app(api, "/db")
    run(store, stage(store, "/web", 0))
    assert list(apps_by_id(api)) == ["/db", "/web"]

    deleted = api.delete("/v2/apps/web?force=true")
    assert deleted.status_code == 200, deleted.text
    assert list(apps_by_id(api)) == ["/db"]

    # created again while the old instance still runs: it counts, as it would for a new server
    create_app(api, "/web", instances=1)
    assert counts(apps_by_id(api)["/web"]) == (0, 1, 0, 0)
    assert listing(api) == listing_of_a_new_server(open_store)


def test_a_last_task_failure_shows_in_the_first_listing_after_it(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    create_app(api, "/web")
    doomed = run(store, stage(store, "/web", 0))
    query = "embed=apps.lastTaskFailure"
    assert "lastTaskFailure" not in apps_by_id(api, query)["/web"]

    record_failed_end(store, doomed)
    web = apps_by_id(api, query)["/web"]
    assert (web["lastTaskFailure"]["taskId"], counts(web)) == (doomed.id, (0, 0, 0, 0))
    assert "lastTaskFailure" not in apps_by_id(api)["/web"]  # only when embedded
    assert listing(api, query) == listing_of_a_new_server(open_store, query)


QUERIES = [
    "",
    "id=team1",
    "id=%2Fnothing",
    "cmd=python",
    "label=team%3D%3Dblue",
    "label=tier",
    "embed=apps.counts&embed=apps.deployments",
    "embed=apps.readiness",
    "embed=app.lastTaskFailure",
    "embed=apps.taskStats",
    "embed=apps.tasks",
    "id=team2&embed=apps.lastTaskFailure,apps.readiness",
]


def test_every_query_lists_what_a_new_server_lists_before_and_after_changes(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    for number in range(6):
        app_id = f"/team{number % 3}/service{number}"
        labels = {"team": "blue" if number % 2 else "red", **({"tier": "web"} if number else {})}
        cmd = "python3 -m http.server" if number % 2 else "sleep 600"
        create_app(api, app_id, cmd=cmd, labels=labels, healthChecks=[HEALTH_CHECK])
        run(store, stage(store, app_id, 0, checks=1))
    before = {query: listing(api, query) for query in QUERIES}

    record_health(store, "team1_service1.00000000-0000-4000-8000-000000000000", healthy=True)
    scale(api, "/team2/service2", 4)
    create_app(api, "/team1/service9", labels={"tier": "db"})
    api.delete("/v2/apps/team0/service3?force=true").raise_for_status()
    with store.transaction() as tx:
        failing = tx.get_instance("team2_service5.00000000-0000-4000-8000-000000000000")
    assert failing is not None
    record_failed_end(store, failing)

    fresh = {query: listing_of_a_new_server(open_store, query) for query in QUERIES}
    after = {query: listing(api, query) for query in QUERIES}
    assert after == fresh
    assert all(before[query] != after[query] for query in QUERIES if query != "id=%2Fnothing")


def test_a_change_made_through_another_server_shows_in_the_first_listing_after_it(
    open_store: OpenStore,
) -> None:
    here, there = open_store(), open_store()
    with serving(here) as api, serving(there) as other:
        create_app(other, "/web", healthChecks=[HEALTH_CHECK])
        instance = run(there, stage(there, "/web", 0, checks=1))
        assert counts(apps_by_id(api)["/web"]) == (0, 1, 0, 0)

        record_health(there, instance.id, healthy=True)
        assert counts(apps_by_id(api)["/web"]) == (0, 1, 1, 0)
        scaled = scale(other, "/web", 3)
        assert deployment_ids(apps_by_id(api)["/web"]) == [scaled]
        create_app(other, "/db")
        assert list(apps_by_id(api)) == ["/db", "/web"]
        assert listing(api) == listing(other)


def test_after_an_event_it_does_not_know_the_listing_reads_everything_again(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    create_app(api, "/web")
    instance = run(store, stage(store, "/web", 0))
    assert counts(apps_by_id(api)["/web"]) == (0, 1, 0, 0)

    now = datetime.now(UTC)
    with store.transaction() as tx:  # a writer this server's listing does not know about
        tx.put_instance(replace(instance, state=InstanceState.KILLING))
        tx.append_event("instance_drained", {"eventType": "instance_drained"}, at=now)
    assert counts(apps_by_id(api)["/web"]) == (0, 0, 0, 0)
    assert listing(api) == listing_of_a_new_server(open_store)


@pytest.mark.parametrize("later_events", [2, 8])  # 5 kept: /web's event stays, is pruned
def test_the_listing_is_current_whether_or_not_the_events_since_the_last_were_pruned(
    open_store: OpenStore, later_events: int
) -> None:
    store = open_store(keep_events=5)
    with serving(store) as api:
        create_app(api, "/web", healthChecks=[HEALTH_CHECK])
        create_app(api, "/db")
        web = run(store, stage(store, "/web", 0, checks=1))
        db = run(store, stage(store, "/db", 0))
        assert counts(apps_by_id(api)["/web"]) == (0, 1, 0, 0)

        record_health(store, web.id, healthy=True)
        for _ in range(later_events):
            store_instance(store, db)
        assert counts(apps_by_id(api)["/web"]) == (0, 1, 1, 0)
        assert listing(api) == listing_of_a_new_server(open_store)


def test_state_stored_without_events_is_listed_and_then_kept_current(
    store: SqlStore, api: httpx.Client, open_store: OpenStore
) -> None:
    now = datetime.now(UTC)
    health_checks = (HealthCheck(),)
    web = AppDefinition("/web", now, VersionInfo(now, now), health_checks=health_checks)
    with store.transaction() as tx:  # as an import or a restore would, before any event
        tx.put_app(web)
        tx.put_instance(replace(stage_record("/web", 0, checks=1), state=InstanceState.RUNNING))
    assert counts(apps_by_id(api)["/web"]) == (0, 1, 0, 0)

    record_health(store, "web.00000000-0000-4000-8000-000000000000", healthy=True)
    assert counts(apps_by_id(api)["/web"]) == (0, 1, 1, 0)
    assert listing(api) == listing_of_a_new_server(open_store)
