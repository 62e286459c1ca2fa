"""`GET /v2/apps` latency with 1,000 apps and 10,000 tasks stored, through the real HTTP app,
against the same server returning the identical JSON bytes prebuilt, in the same run. The
listing is measured three ways: with nothing changed since the previous request (the server reuses
its rendering, validated by the newest event id); right after a change, made just before the
request as the server makes it (in turn: one app scaled through `PUT /v2/apps/{id}`, one
instance's health check flipped as the health controller records it, with its event); and right
after an event the listing does not interpret (a made-up event type), which makes it read and
count every app and instance again.

The store is filled directly through `SqlStore` with the data of bench/store_reads.py (each app
has a health check and labels, each instance is RUNNING with a health result). The HTTP app is
`build_api` on that store, served by uvicorn in a background thread on a free loopback port, with
no controllers and no engine: nothing tries to run the stored instances. The baseline is a route
added to the same app that returns the bytes `GET /v2/apps` returned, prebuilt: the cost of HTTP
and of moving that many bytes. Requests are sequential, over one keep-alive connection, the two
kinds alternating, after a few warm-up requests.

    .venv/bin/python bench/apps_list.py [--quick] [--requests N] [--postgres]

With `--postgres` the run is repeated on PostgreSQL (see bench/store_reads.py for where the
server comes from). Target: p99 of `GET /v2/apps` ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.responses import Response

from conveyor.api.app import build_api
from conveyor.api.context import Context, ServerInfo
from conveyor.domain.clock import SystemClock
from conveyor.domain.errors import NotFound
from conveyor.domain.event_json import failed_health_check_event, health_status_changed_event
from conveyor.domain.health import record_health_outcome
from conveyor.store.sql import SqlStore
from figures import percentile, series_line, verdict_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.support
from tests.support.servers import serving_in_thread

from store_reads import APPS, INSTANCES_PER_APP, NO_POSTGRES, fill, postgres_database

PREBUILT_PATH = "/bench/prebuilt"
TARGET_P99 = 0.100
WARM_UP = 5
SCALED_APP = "/v2/apps/prod/team0/service0"


class IdleControl:
    """The api's `Control` without controllers: a doorbell nobody hears, no task logs."""

    def wake(self) -> None:
        pass

    def read_log(self, task_id: str, stream: str, *, offset: int, limit: int) -> tuple[bytes, int]:
        raise NotFound(f"Task '{task_id}' does not exist")


@dataclass
class Samples:
    listing: list[float] = field(default_factory=list)
    prebuilt: list[float] = field(default_factory=list)
    after_change: list[float] = field(default_factory=list)
    after_unknown_event: list[float] = field(default_factory=list)


def http_app(store: SqlStore, database: str) -> FastAPI:
    info = ServerInfo("bench", "127.0.0.1", "127.0.0.1", "", database, "none")
    return build_api(Context(store, IdleControl(), SystemClock(), info))


def add_prebuilt_route(api: FastAPI, body: bytes) -> None:
    async def prebuilt() -> Response:
        return Response(body, media_type="application/json")

    api.add_api_route(PREBUILT_PATH, prebuilt, methods=["GET"])


def timed_get(client: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    return elapsed


def record_a_change(client: httpx.Client, store: SqlStore, number: int) -> None:
    """One change as the server makes it: even numbers scale an app through the API (a new
    version, a deployment that cancels the previous one), odd numbers flip the health of one
    instance as the health controller records a probe's outcome."""
    if number % 2 == 0:
        body = {"instances": INSTANCES_PER_APP + (number // 2) % 2}
        response = client.put(f"{SCALED_APP}?force=true", json=body)
        response.raise_for_status()
    else:
        flip_health(store, f"/prod/team{number % 20}/service{number % APPS}")


def flip_health(store: SqlStore, app_id: str) -> None:
    """The first instance of `app_id` fails its health check if it passed, else passes it."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        instance = tx.list_instances(app_id)[0]
        before = instance.health[0]
        after = record_health_outcome(before, healthy=not before.alive, cause="bench", now=now)
        updated = replace(instance, health=(after, *instance.health[1:]))
        tx.put_instance(updated)
        if before.alive:
            payload = failed_health_check_event(updated, health_check={}, at=now)
            tx.append_event("failed_health_check_event", payload, at=now)
        payload = health_status_changed_event(updated, alive=after.alive, at=now)
        tx.append_event("health_status_changed_event", payload, at=now)


def record_an_unknown_event(store: SqlStore) -> None:
    """An event of a type the listing does not interpret: it must read everything again."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        tx.append_event("bench_change", {"eventType": "bench_change"}, at=now)


def collect(client: httpx.Client, store: SqlStore, requests: int) -> Samples:
    """`requests` rounds of each kind of request, after `WARM_UP` rounds not recorded (the
    first change after the store was filled without events reads everything)."""
    warm_up = Samples()
    for number in range(WARM_UP):
        collect_round(client, store, number, warm_up)
    samples = Samples()
    for number in range(WARM_UP, WARM_UP + requests):
        collect_round(client, store, number, samples)
    return samples


def collect_round(client: httpx.Client, store: SqlStore, number: int, samples: Samples) -> None:
    samples.listing.append(timed_get(client, "/v2/apps"))
    samples.prebuilt.append(timed_get(client, PREBUILT_PATH))
    record_a_change(client, store, number)
    samples.after_change.append(timed_get(client, "/v2/apps"))
    record_an_unknown_event(store)
    samples.after_unknown_event.append(timed_get(client, "/v2/apps"))


def measure(name: str, url: str, requests: int) -> None:
    print(f"{name}: {APPS} apps, {APPS * INSTANCES_PER_APP} tasks stored, {requests} requests each")
    print("  (controllers not started: nothing runs the stored instances)")
    store = SqlStore.open(url)
    try:
        fill(store)
        api = http_app(store, name.lower())
        with (
            serving_in_thread(api) as base_url,
            httpx.Client(base_url=base_url, timeout=30) as client,
        ):
            body = client.get("/v2/apps").content
            check_listing(body)
            add_prebuilt_route(api, body)
            samples = collect(client, store, requests)
    finally:
        store.close()
    report(samples, len(body))


def check_listing(body: bytes) -> None:
    """Fail unless the listing shows every stored app with its running instances."""
    apps = json.loads(body)["apps"]
    running = sum(app["tasksRunning"] for app in apps)
    if len(apps) != APPS or running != APPS * INSTANCES_PER_APP:
        raise RuntimeError(f"GET /v2/apps listed {len(apps)} apps, {running} running tasks")


def report(samples: Samples, size: int) -> None:
    print(f"  response size: {size:,} bytes ({size / 2**20:.1f} MiB)")
    print(series_line("baseline: the same bytes, prebuilt", samples.prebuilt))
    print(series_line("GET /v2/apps, nothing changed since", samples.listing))
    print(series_line("GET /v2/apps right after a change", samples.after_change))
    print(series_line("GET /v2/apps after an unknown event", samples.after_unknown_event))
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ratio = percentile(samples.listing, fraction) / percentile(samples.prebuilt, fraction)
        print(f"  ratio at {label} (GET /v2/apps / prebuilt): {ratio:.2f}x")
    p99 = percentile(samples.listing, 0.99)
    print("  " + verdict_line(f"p99 ≤ {TARGET_P99 * 1e3:.0f} ms", met=p99 <= TARGET_P99))
    changed = percentile(samples.after_change, 0.99)
    verdict = verdict_line(
        f"right after a change, p99 ≤ {TARGET_P99 * 1e3:.0f} ms", met=changed <= TARGET_P99
    )
    print("  " + verdict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50 requests instead of 200")
    parser.add_argument("--requests", type=int, help="timed requests of each kind (default 200)")
    parser.add_argument("--postgres", action="store_true", help="repeat on PostgreSQL")
    arguments = parser.parse_args()
    requests = arguments.requests or (50 if arguments.quick else 200)
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as directory:
        measure("SQLite", f"sqlite:///{Path(directory) / 'conveyor.db'}", requests)
    if arguments.postgres:
        with postgres_database() as url:
            if url is None:
                print(NO_POSTGRES)
            else:
                measure("PostgreSQL", url, requests)


if __name__ == "__main__":
    main()
