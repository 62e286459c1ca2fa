"""The builds page with 100,000 builds stored: `GET /api/pipelines/{name}/builds?limit=20`, the
first page and a deep one, through a real `conveyor serve`, against `GET /api/info` on the same
server in the same run.

    .venv/bin/python bench/builds_page.py [--quick] [--requests N] [--postgres]

A fresh data directory is filled through `SqlStore`: one pipeline, `web`, and 100,000 finished
builds of it (bench/build_history.py's `sample_build`, one a minute from 2024-01-01, with a mix
of webhook, poll, manual and retriggered builds and their varied durations, one in ten failed),
written in bulk as the store's own rows. The pipeline never polls and keeps every build (its
retention is off: with the default of 500 the server would prune the rest at once, which is why
build_history.py's `fill_builds` is not reused). Then `conveyor serve --data-dir` starts on it
(tests/support/servers.py's `ServerProcess`); every build is finished, so nothing runs.

Timed, each `--requests` times (default 200; `--quick` 50), sequentially over one keep-alive
connection, the three kinds taking turns, after a warm-up of 10 each: `?limit=20` (the first
page), `?limit=20&before=50000` (a deep page) and, as the baseline, `GET /api/info` (facts the
server holds in memory: no store work, only HTTP, routing and JSON). Target: p99 ≤ 50 ms for
both pages.

With `--postgres` the run is repeated on PostgreSQL (see bench/store_reads.py for where the
server comes from); the server then gets `--database-url`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

from build_history import sample_build
from conveyor.domain.builds import Build, Retriggered, Trigger, TriggerKind
from conveyor.domain.documents import JsonValue
from conveyor.domain.pipelines import PipelineDefinition, Retention
from conveyor.store import schema
from conveyor.store.build_records import build_row
from conveyor.store.sql import SqlStore
from figures import percentile, series_line, verdict_line
from live_server import remove_leftovers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.support
from tests.support.servers import ServerProcess

from store_reads import NO_POSTGRES, postgres_database

PIPELINE = "web"
BUILDS = 100_000
DEEP_BEFORE = 50_000
PAGE = 20
BATCH = 10_000
WARM_UP = 10
TARGET_P99 = 0.050
FIRST_PAGE = f"/api/pipelines/{PIPELINE}/builds?limit={PAGE}"
DEEP_PAGE = f"{FIRST_PAGE}&before={DEEP_BEFORE}"
INFO = "/api/info"


# the data


def realistic_build(number: int) -> Build:
    """build_history's build, with other triggers now and then and a duration that varies."""
    build: Build = sample_build(number)
    trigger = build.trigger
    if number % 10 == 3:
        trigger = Trigger(TriggerKind.POLL, by="poller", commit=build.commit, ref=trigger.ref)
    elif number % 25 == 7:
        parameters: dict[str, JsonValue] = {"environment": "staging", "dryRun": number % 2 == 0}
        trigger = Trigger(TriggerKind.MANUAL, by="alice", parameters=parameters)
    elif number % 50 == 11:
        trigger = Trigger(TriggerKind.RETRIGGER, by="bob", commit=build.commit)
        build = replace(build, retriggered=Retriggered(number - 1, (3,)))
    assert build.started_at is not None
    finished = build.started_at + timedelta(seconds=20 + number * 7919 % 600)
    return replace(build, trigger=trigger, finished_at=finished)


def fill(url: str, repository: Path) -> None:
    """Register `web` (no polling, no retention) and write the builds in bulk."""
    store = SqlStore.open(url)
    try:
        with store.transaction() as tx:
            tx.put_pipeline(
                PipelineDefinition(
                    PIPELINE,
                    str(repository),
                    poll_seconds=None,
                    retention=Retention(keep_builds=None, keep_days=None),
                )
            )
        with store.engine.begin() as connection:
            for start in range(1, BUILDS + 1, BATCH):
                numbers = range(start, min(start + BATCH, BUILDS + 1))
                connection.execute(
                    schema.builds.insert(), [build_row(realistic_build(n)) for n in numbers]
                )
    finally:
        store.close()


# the requests


def timed_get(client: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    return elapsed


def collect(client: httpx.Client, requests: int) -> dict[str, list[float]]:
    """Seconds per request of each kind, taking turns (the order rotating each round)."""
    paths = [INFO, FIRST_PAGE, DEEP_PAGE]
    for _ in range(WARM_UP):
        for path in paths:
            timed_get(client, path)
    samples: dict[str, list[float]] = {path: [] for path in paths}
    for round_ in range(requests):
        shift = round_ % len(paths)
        for path in paths[shift:] + paths[:shift]:
            samples[path].append(timed_get(client, path))
    return samples


def check_pages(client: httpx.Client) -> dict[str, int]:
    """Fail unless both pages hold the builds they should; the size of each response."""
    sizes = {}
    for path, newest in ((FIRST_PAGE, BUILDS), (DEEP_PAGE, DEEP_BEFORE - 1)):
        response = client.get(path)
        response.raise_for_status()
        numbers = [build["number"] for build in response.json()["builds"]]
        if numbers != list(range(newest, newest - PAGE, -1)):
            raise RuntimeError(f"GET {path} listed builds {numbers}")
        sizes[path] = len(response.content)
    sizes[INFO] = len(client.get(INFO).content)
    return sizes


# the run


def measure(name: str, url: str | None, requests: int) -> None:
    """Fill a fresh data directory (and `url`'s database, when given), serve it, time it."""
    print(f"{name}: {BUILDS:,} finished builds of one pipeline, {requests} requests of each kind")
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as directory:
        data_dir = Path(directory) / "data"
        data_dir.mkdir()
        started = time.perf_counter()
        fill(url or f"sqlite:///{data_dir / 'conveyor.db'}", Path(directory) / "repository")
        print(f"  stored {BUILDS:,} builds in {time.perf_counter() - started:.1f} s (bulk)")
        server = ServerProcess(data_dir, database_url=url)
        try:
            server.start()
            with httpx.Client(base_url=server.url, timeout=30) as client:
                sizes = check_pages(client)
                samples = collect(client, requests)
        finally:
            server.stop()
            remove_leftovers(data_dir / "tasks")
    report(samples, sizes)


LABELS = {
    INFO: "baseline: GET /api/info",
    FIRST_PAGE: "builds?limit=20 (first page)",
    DEEP_PAGE: f"builds?limit=20&before={DEEP_BEFORE} (deep)",
}


def report(samples: dict[str, list[float]], sizes: dict[str, int]) -> None:
    for path, seconds in samples.items():
        print(series_line(LABELS[path], seconds, width=44) + f"   {sizes[path]:6,} bytes")
    baseline = samples[INFO]
    for path in (FIRST_PAGE, DEEP_PAGE):
        ratios = [
            percentile(samples[path], fraction) / percentile(baseline, fraction)
            for fraction in (0.5, 0.99)
        ]
        print(f"  ratio to /api/info, {LABELS[path]}: p50 {ratios[0]:.2f}x, p99 {ratios[1]:.2f}x")
    worst = max(percentile(samples[path], 0.99) for path in (FIRST_PAGE, DEEP_PAGE))
    target = f"p99 ≤ {TARGET_P99 * 1e3:.0f} ms for both pages with {BUILDS:,} builds"
    print("  " + verdict_line(target, met=worst <= TARGET_P99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50 requests of each kind")
    parser.add_argument("--requests", type=int, help="timed requests of each kind (default 200)")
    parser.add_argument("--postgres", action="store_true", help="repeat on PostgreSQL")
    arguments = parser.parse_args()
    requests = arguments.requests or (50 if arguments.quick else 200)
    measure("SQLite", None, requests)
    if arguments.postgres:
        with postgres_database() as url:
            if url is None:
                print(NO_POSTGRES)
            else:
                measure("PostgreSQL", url, requests)


if __name__ == "__main__":
    main()
