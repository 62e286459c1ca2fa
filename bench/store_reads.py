"""What `GET /v2/apps` costs the store: list_apps() + list_instances() with 1,000 apps and 10,000
instances, on SQLite and (when a server is at hand) PostgreSQL, against a raw driver SELECT of the
same rows in the same run.

    .venv/bin/python -m bench.store_reads [--rounds 50]

PostgreSQL: CONVEYOR_TEST_DATABASE_URL if set (a throwaway database is created on it), else a
throwaway cluster from the server binaries (CONVEYOR_PG_BINDIR, as the tests find them); skipped
when neither is available.

"warm" is the steady state of a server answering repeatedly (decoded records are reused while
their rows are unchanged); "cold" is a freshly opened store that decodes every document.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from tests.support.postgres import available_postgres

from conveyor.domain.apps import AppDefinition, HealthCheck, PortDefinition, VersionInfo
from conveyor.domain.instances import HealthResult, Instance, InstanceState, ResourceLimits
from conveyor.store.sql import SqlStore, database_url

APPS = 1_000
INSTANCES_PER_APP = 10
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def sample_app(number: int) -> AppDefinition:
    app_id = f"/prod/team{number % 20}/service{number}"
    return AppDefinition(
        id=app_id,
        version=T0,
        version_info=VersionInfo(T0, T0),
        cmd="python3 -m http.server $PORT0",
        env={"LOG_LEVEL": "info", "REGION": "eu-west-1"},
        instances=INSTANCES_PER_APP,
        cpus=0.25,
        mem=256.0,
        port_definitions=(PortDefinition(port=10000 + number, name="http"),),
        health_checks=(HealthCheck(path="/health", port_index=0),),
        labels={"team": f"team{number % 20}", "HAPROXY_GROUP": "external"},
        passthrough={"container": {"type": "DOCKER", "docker": {"image": "nginx:1.25"}}},
    )


def sample_instance(app: AppDefinition, index: int) -> Instance:
    staged = T0 + timedelta(seconds=index)
    return Instance(
        id=f"{app.id.strip('/').replace('/', '_')}.{index:08d}-0000-4000-8000-000000000000",
        app_id=app.id,
        version=app.version,
        state=InstanceState.RUNNING,
        host="127.0.0.1",
        staged_at=staged,
        ports=(31000 + index,),
        started_at=staged,
        pid=10000 + index,
        pid_start_time=123456.78,
        health=(HealthResult(alive=True, first_success=staged, last_success=staged),),
        limits=ResourceLimits("cgroup-v2", mem_bytes=256 << 20, cpu_shares=256),
        updated_at=staged,
    )


def fill(store: SqlStore) -> None:
    with store.transaction() as tx:
        for number in range(APPS):
            app = sample_app(number)
            tx.put_app(app)
            for index in range(INSTANCES_PER_APP):
                tx.put_instance(sample_instance(app, index))


def timings(action: Callable[[], object], rounds: int) -> list[float]:
    action()  # warm-up: connections, statement caches
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        results.append((time.perf_counter() - started) * 1000)
    return results


def report(label: str, millis: list[float]) -> None:
    ordered = sorted(millis)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"  {label:<44} p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms")


def list_everything(store: SqlStore) -> None:
    with store.transaction() as tx:
        apps, instances = tx.list_apps(), tx.list_instances()
    assert len(apps) == APPS and len(instances) == APPS * INSTANCES_PER_APP


def cold_list(url: str) -> Callable[[], None]:
    def run() -> None:
        store = SqlStore.open(url)
        try:
            list_everything(store)
        finally:
            store.close()

    return run


APPS_QUERY = "SELECT id, document FROM apps ORDER BY id"
INSTANCES_QUERY = "SELECT id, document FROM instances ORDER BY staged_at, id"


def raw_sqlite(path: str, *, decode: bool) -> Callable[[], None]:
    connection = sqlite3.connect(path, check_same_thread=False)

    def run() -> None:
        for query in (APPS_QUERY, INSTANCES_QUERY):
            rows = connection.execute(query).fetchall()
            if decode:
                [json.loads(document) for _, document in rows]

    return run


def raw_postgres(url: str, *, decode: bool) -> Callable[[], None]:
    conninfo = database_url(url).set(drivername="postgresql").render_as_string(False)
    connection = psycopg.connect(conninfo, autocommit=True)

    def run() -> None:
        for query in (APPS_QUERY, INSTANCES_QUERY):
            rows = connection.execute(query).fetchall()
            if decode:
                [json.loads(document) for _, document in rows]

    return run


def measure(name: str, url: str, raw: Callable[..., Callable[[], None]], target: str, rounds: int):
    print(f"{name}: {APPS} apps, {APPS * INSTANCES_PER_APP} instances, {rounds} rounds")
    store = SqlStore.open(url)
    try:
        fill(store)
        listing = timings(lambda: list_everything(store), rounds)
        report("raw driver SELECT of the same rows", timings(raw(target, decode=False), rounds))
        report("raw SELECT + json.loads of each doc", timings(raw(target, decode=True), rounds))
        report("store list_apps + list_instances (warm)", listing)
        report("store, freshly opened (cold)", timings(cold_list(url), max(3, rounds // 10)))
    finally:
        store.close()


NO_POSTGRES = "PostgreSQL: skipped (no server binaries, no CONVEYOR_TEST_DATABASE_URL)"


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database (see `available_postgres`), dropped afterwards; None without one."""
    with available_postgres() as server:
        if server is None:
            yield None
            return
        name = server.create_database()
        try:
            yield server.url(name)
        finally:
            server.drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "conveyor.db")
        measure("SQLite", f"sqlite:///{path}", raw_sqlite, path, rounds)
    with postgres_database() as url:
        if url is None:
            print(NO_POSTGRES)
        else:
            measure("PostgreSQL", url, raw_postgres, url, rounds)


if __name__ == "__main__":
    main()
