"""What a pipeline's history costs the store: pages of `list_builds` with 100,000 builds of one
pipeline stored, and 100 MB of step output appended in 500-line batches then read back a page at a
time, each against a raw driver doing the same in the same run.

    .venv/bin/python bench/build_history.py [--quick] [--rounds N] [--megabytes M] [--postgres]

Builds: 100,000 builds of pipeline `web` are written in bulk (the store's own rows, one
transaction), then `list_builds("web", limit=20)` (the first page) and
`list_builds("web", before=50_000, limit=20)` (a deep page) are timed, each in its own store
transaction, against the raw `SELECT document FROM builds WHERE pipeline = ? [AND number < ?]
ORDER BY number DESC LIMIT 20` on a plain driver connection. Target: p99 under 50 ms.

Output: about 1.4 million lines of 70-odd characters (100 MB of text), generated as they are
appended, 500 lines to an `append_output` call and each call its own transaction, into a fresh
database; the baseline is a raw `executemany` of the same rows by the same statement, a commit
per batch, into another fresh database with the same schema. The process's resident memory is
read after a tenth of the output and at the end: the store must not grow with what it has
written. Then pages of `list_output(after=..., limit=1000)` at random places are timed against
the raw SELECT.

The store and its baseline take turns (sample by sample, batch by batch), so that whatever else
the machine is doing slows both alike; compare their ratio, not figures from another run.

With `--postgres` the whole run is repeated on PostgreSQL (see bench/store_reads.py for where the
server comes from); the raw driver is then psycopg.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg

from conveyor.domain.builds import Build, BuildStatus, OutputLine, Trigger, TriggerKind
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.store import schema
from conveyor.store.build_records import build_row, insert_output_statement, output_parameters
from conveyor.store.schema import step_key
from conveyor.store.sql import SqlStore, database_url
from figures import percentile, series_line, verdict_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.support
from tests.support.postgres import available_postgres

from store_reads import NO_POSTGRES

BUILDS = 100_000
DEEP_BEFORE = 50_000
PAGE = 20
BATCH_LINES = 500
OUTPUT_PAGE = 1000
TARGET_P99 = 0.050
T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = (2, 1)

Action = Callable[[], object]


# builds


def sample_build(number: int) -> Build:
    created = T0 + timedelta(minutes=number)
    commit = f"{number * 2654435761 % 2**160:040x}"
    return Build(
        pipeline="web",
        number=number,
        status=BuildStatus.FAILURE if number % 10 == 0 else BuildStatus.SUCCESS,
        trigger=Trigger(TriggerKind.WEBHOOK, by="github", commit=commit, ref="refs/heads/main"),
        created_at=created,
        started_at=created + timedelta(seconds=2),
        finished_at=created + timedelta(seconds=95),
        commit=commit,
        pipeline_file_digest=f"sha256:{number:064x}",
        workspace=f"/var/lib/conveyor/builds/web/{number}",
        task_id=f"build-web-{number}",
        reports_applied=40,
        worker_token=f"{number:032x}",
    )


def fill_builds(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put_pipeline(PipelineDefinition("web", "https://git.example.org/web.git"))
    with store.engine.begin() as connection:
        for start in range(1, BUILDS + 1, 10_000):
            rows = [
                build_row(sample_build(n)) for n in range(start, min(start + 10_000, BUILDS + 1))
            ]
            connection.execute(schema.builds.insert(), rows)


def store_page(store: SqlStore, before: int | None) -> Action:
    def run() -> None:
        with store.transaction() as tx:
            builds = tx.list_builds("web", before=before, limit=PAGE)
        assert len(builds) == PAGE

    return run


BUILDS_QUERY = "SELECT document FROM builds WHERE pipeline = {p} ORDER BY number DESC LIMIT 20"
DEEP_QUERY = (
    "SELECT document FROM builds WHERE pipeline = {p} AND number < {p} "
    "ORDER BY number DESC LIMIT 20"
)


@dataclass
class RawDriver:
    """A plain driver connection to the store's database: sqlite3 or psycopg."""

    connection: Any
    placeholder: str

    @classmethod
    def open(cls, url: str) -> RawDriver:
        parsed = database_url(url)
        if parsed.get_backend_name() == "sqlite":
            connection = sqlite3.connect(str(parsed.database), isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            return cls(connection, "?")
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(psycopg.connect(conninfo, autocommit=True), "%s")

    def query(self, template: str, parameters: Sequence[object]) -> Action:
        statement = template.format(p=self.placeholder)

        def run() -> None:
            rows = self.connection.execute(statement, parameters).fetchall()
            assert len(rows) == PAGE

        return run

    def insert_batch(self, statement: str, rows: list[tuple[object, ...]]) -> None:
        if isinstance(self.connection, sqlite3.Connection):
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.executemany(statement, rows)
            self.connection.execute("COMMIT")
        else:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                cursor.executemany(statement, rows)

    def close(self) -> None:
        self.connection.close()


def interleaved(actions: dict[str, Action], rounds: int) -> dict[str, list[float]]:
    """Seconds each action took, `rounds` times, taking turns (so that whatever else the machine
    does slows them alike), after a few warm-up calls of each."""
    for action in actions.values():
        for _ in range(5):  # connections, statement caches, pages in memory
            action()
    samples: dict[str, list[float]] = {label: [] for label in actions}
    order = list(actions.items())
    for round_ in range(rounds):
        for label, action in order[round_ % 2 :] + order[: round_ % 2]:
            started = time.perf_counter()
            action()
            samples[label].append(time.perf_counter() - started)
    return samples


def print_series(samples: dict[str, list[float]]) -> None:
    for label, seconds in samples.items():
        print(series_line(label, seconds, width=44))


def measure_build_pages(url: str, rounds: int) -> None:
    store = SqlStore.open(url)
    raw = RawDriver.open(url)
    try:
        started = time.perf_counter()
        fill_builds(store)
        print(f"  stored {BUILDS:,} builds in {time.perf_counter() - started:.1f} s (bulk)")
        pages: dict[str, list[float]] = {}
        for before, query, parameters, where in (
            (None, BUILDS_QUERY, ["web"], "first page"),
            (DEEP_BEFORE, DEEP_QUERY, ["web", DEEP_BEFORE], f"before={DEEP_BEFORE:_}"),
        ):
            raw_label, store_label = f"raw SELECT, {where}", f"list_builds(limit=20), {where}"
            pages |= interleaved(
                {raw_label: raw.query(query, parameters), store_label: store_page(store, before)},
                rounds,
            )
    finally:
        raw.close()
        store.close()
    print_series(pages)
    worst = max(percentile(seconds, 0.99) for label, seconds in pages.items() if "list" in label)
    target = "list_builds p99 < 50 ms with 100,000 builds"
    print("  " + verdict_line(target, met=worst < TARGET_P99))


# output


def output_batches(megabytes: int) -> Iterator[list[OutputLine]]:
    """Batches of lines until `megabytes` of text, made as they are asked for."""
    budget, seq = megabytes * 1_000_000, 0
    while budget > 0:
        batch = []
        for _ in range(BATCH_LINES):
            seq += 1
            text = (
                f"[{seq:>9}] 2024-01-01T12:00:00Z INFO tests/unit/test_{seq % 977:03d}.py "
                f"PASSED {seq * 7919 % 100_000:05d}"
            )
            batch.append(OutputLine(seq, T0 + timedelta(microseconds=seq), text))
            budget -= len(text)
        yield batch


def prepare_output_build(url: str) -> None:
    store = SqlStore.open(url)
    try:
        with store.transaction() as tx:
            tx.put_pipeline(PipelineDefinition("web", "https://git.example.org/web.git"))
            tx.put_build(sample_build(1))
    finally:
        store.close()


Appender = Callable[[list[OutputLine]], None]


def store_appender(store: SqlStore) -> Appender:
    def append(batch: list[OutputLine]) -> None:
        with store.transaction() as tx:
            tx.append_output("web", 1, STEP, batch)

    return append


def raw_appender(raw: RawDriver) -> Appender:
    """The rows the store writes, by the statement it uses, on a bare driver connection."""
    statement = insert_output_statement("qmark" if raw.placeholder == "?" else "format")
    key = step_key(STEP)

    def append(batch: list[OutputLine]) -> None:
        raw.insert_batch(statement, [output_parameters("web", 1, key, line) for line in batch])

    return append


@dataclass
class Appended:
    """What appending the output took: seconds per appender, and the process's memory."""

    seconds: dict[str, float]
    lines: int = 0
    text_bytes: int = 0
    rss_at_tenth: int = 0
    rss_at_end: int = 0


def append_all(megabytes: int, appenders: dict[str, Appender]) -> Appended:
    """Each batch to every appender in turn; making the lines is timed for none of them."""
    process = psutil.Process()
    appended = Appended(seconds=dict.fromkeys(appenders, 0.0))
    order = list(appenders.items())
    for number, batch in enumerate(output_batches(megabytes)):
        for label, append in order[number % 2 :] + order[: number % 2]:
            started = time.perf_counter()
            append(batch)
            appended.seconds[label] += time.perf_counter() - started
        appended.lines += len(batch)
        appended.text_bytes += sum(len(line.text) for line in batch)
        if not appended.rss_at_tenth and appended.text_bytes >= megabytes * 100_000:
            appended.rss_at_tenth = process.memory_info().rss
    appended.rss_at_end = process.memory_info().rss
    return appended


def print_appended(appended: Appended) -> None:
    for label, seconds in appended.seconds.items():
        print(
            f"  {label:<44} {seconds:6.1f} s  {appended.text_bytes / seconds / 1e6:6.1f} MB/s"
            f"  {appended.lines / seconds:9,.0f} lines/s"
        )
    raw, store = appended.seconds.values()
    growth = (appended.rss_at_end - appended.rss_at_tenth) / 2**20
    print(
        f"  {appended.lines:,} lines, {appended.text_bytes / 1e6:.0f} MB; append_output takes "
        f"{store / raw:.2f}x the raw time; process RSS {appended.rss_at_end / 2**20:.0f} MiB, "
        f"{growth:+.0f} MiB since the first tenth"
    )


def measure_output(store_url: str, raw_url: str, megabytes: int, rounds: int) -> Appended:
    """Append through the store into one database and raw into another, then page through."""
    for url in (store_url, raw_url):
        prepare_output_build(url)
    store, raw = SqlStore.open(store_url), RawDriver.open(raw_url)
    try:
        appended = append_all(
            megabytes,
            {
                "raw executemany, 500 rows a commit": raw_appender(raw),
                "append_output, 500 lines a transaction": store_appender(store),
            },
        )
        print_appended(appended)
        print_series(output_pages(store, raw, appended.lines, rounds))
    finally:
        raw.close()
        store.close()
    return appended


def output_pages(
    store: SqlStore, raw: RawDriver, lines: int, rounds: int
) -> dict[str, list[float]]:
    places = random.Random(7)
    p = raw.placeholder
    statement = (
        f"SELECT seq, at, text FROM step_output WHERE pipeline = {p} AND number = {p} "
        f"AND step_key = {p} AND seq > {p} ORDER BY seq LIMIT {OUTPUT_PAGE}"
    )

    def raw_page() -> None:
        after = places.randrange(lines - OUTPUT_PAGE)
        rows = raw.connection.execute(statement, ("web", 1, step_key(STEP), after)).fetchall()
        assert len(rows) == OUTPUT_PAGE

    def store_page() -> None:
        after = places.randrange(lines - OUTPUT_PAGE)
        with store.transaction() as tx:
            page = tx.list_output("web", 1, STEP, after=after, limit=OUTPUT_PAGE)
        assert len(page) == OUTPUT_PAGE

    return interleaved(
        {
            "raw SELECT, 1,000 lines at random": raw_page,
            "list_output(after=..., limit=1000)": store_page,
        },
        rounds,
    )


PARTS = ("builds", "store", "raw")
"""The databases of one run: build history, output through the store, raw output."""


def run_database(name: str, urls: dict[str, str], args: argparse.Namespace) -> None:
    print(f"{name}: {BUILDS:,} builds of one pipeline, {args.rounds} rounds")
    measure_build_pages(urls["builds"], args.rounds)
    print(f"{name}: {args.megabytes} MB of output in {BATCH_LINES}-line batches")
    appended = measure_output(urls["store"], urls["raw"], args.megabytes, args.rounds)
    bounded = appended.rss_at_end - appended.rss_at_tenth < 64 * 2**20
    print("  " + verdict_line("memory does not grow with the output appended", met=bounded))


@contextmanager
def postgres_databases() -> Iterator[dict[str, str] | None]:
    """A fresh database for each part, on CONVEYOR_TEST_DATABASE_URL's server or a throwaway
    cluster; None when there is neither."""
    with available_postgres() as server:
        if server is None:
            yield None
            return
        names = {part: server.create_database() for part in PARTS}
        try:
            yield {part: server.url(name) for part, name in names.items()}
        finally:
            for name in names.values():
                server.drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 MB of output, 100 rounds")
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.rounds = min(args.megabytes, 10), min(args.rounds, 100)
    with tempfile.TemporaryDirectory() as directory:
        urls = {part: f"sqlite:///{directory}/{part}.db" for part in PARTS}
        run_database("SQLite", urls, args)
    if not args.postgres:
        return
    with postgres_databases() as pg_urls:
        if pg_urls is None:
            print(NO_POSTGRES)
            return
        run_database("PostgreSQL", pg_urls, args)


if __name__ == "__main__":
    main()
