"""Webhook received → first step running, through a real `conveyor serve` and real build workers,
against cloning the repository and calling the first step by hand, in the same run.

    .venv/bin/python bench/pipeline_latency.py [--quick] [--samples N]

A git repository in a temporary directory holds a pipeline whose first step is a no-op function
(it returns `{"status": "success"}`); it is registered (no polling) with a server started by
bench/live_server.py. Each sample commits a change, posts `/hooks/git` for that commit, polls the
build every 10 ms until its step "1" has `startedAt`, and waits until the build has finished and
its worker process has exited. The latency is `step startedAt - build createdAt`: both stamped by
the server (the build is created when the webhook is received; the step's start is the time the
worker reported), in milliseconds. The client's view, from sending the webhook until step 1 was
seen running, is printed too (it includes up to one poll interval).

Baseline, alternating with the samples (odd samples go first): what doing it by hand costs — one
subprocess that runs `git clone -q` of the same repository into a fresh directory, `git checkout
-q <sha>`, then `python -c` (the interpreter the server runs its workers with) that imports the
pipeline file with importlib and calls its first step function, which writes a timestamp; timed
from just before spawning until that timestamp. The first few samples of each are a warm-up.

Target: webhook received → first step running, p99 ≤ 250 ms. The breakdown of each build comes
from the server's and the worker's own timestamps: `createdAt` (queued), the build's `startedAt`
(the server has written the order and launches the worker), the birth time of the worker's spool
`<data-dir>/builds/<pipeline>/<number>/reports.jsonl` (the worker process is up: interpreter
started, modules imported, order read), the birth time of the pipeline file in the worker's
checkout `source/` (git has fetched and checked the commit out), and the `at` of the
`build-started` and `step-started` reports in the spool. Birth times need a filesystem that keeps
them (`stat --format=%W`); without them those two points are left out and their segments merge.
When the target is missed, the breakdown is printed, and then (the server stopped) the worker's
start is split further: a bare `python -c pass` against `python -c 'import
conveyor.pipelines.worker'`, alternating, as many of each as there were samples, and the slowest
packages that import pulls in (`python -X importtime`, one run).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from conveyor.domain.clock import parse_timestamp
from figures import percentile, series_line, verdict_line
from live_server import live_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.support
from tests.support.gitrepos import Repo

PIPELINE = "latency"
PIPELINE_FILE = "conveyor_pipeline.py"
PIPELINE_SOURCE = textwrap.dedent(
    f"""
    from conveyor.pipelines import Pipeline


    def first(args, ctx):
        return {{"status": "success"}}


    pipeline = Pipeline(name="{PIPELINE}", steps=[first])
    """
)
BY_HAND = textwrap.dedent(
    """
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location("pipeline_by_hand", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.pipeline.steps[0]({}, None)
    with open(sys.argv[2], "w") as stamp:
        stamp.write(repr(time.time()))
    """
)
BY_HAND_SCRIPT = (
    'git clone -q "$1" "$2" && git -C "$2" checkout -q "$3" && exec "$4" -c "$5" "$6" "$7"'
)
TARGET_P99 = 0.250
POLL_SECONDS = 0.01
BUILD_TIMEOUT = 60.0
WARM_UP = 2
FINAL = ("success", "failure", "killed")
WORKER_MODULE = "conveyor.pipelines.worker"

Point = Literal["step", "end"]


@dataclass(frozen=True)
class Milestones:
    """When one build passed each point, in seconds since the epoch (None: not known)."""

    queued: float
    launched: float
    worker_up: float | None
    checked_out: float | None
    build_started: float
    step_started: float


MILESTONE_NAMES = {
    "queued": "queued",
    "launched": "worker launched",
    "worker_up": "worker up (spool opened)",
    "checked_out": "commit checked out",
    "build_started": "build-started",
    "step_started": "step-started",
}


@dataclass(frozen=True)
class BuildSample:
    """One build: its latency by the server's timestamps, by the client's clock, and its
    milestones."""

    server: float
    client: float
    milestones: Milestones


@dataclass
class Samples:
    builds: list[BuildSample] = field(default_factory=list)
    by_hand: list[float] = field(default_factory=list)


# the pipeline, through the server


def register(client: httpx.Client, repo: Repo) -> None:
    body = {"name": PIPELINE, "repository": str(repo.path), "branch": "main", "pollSeconds": None}
    client.post("/api/pipelines", json=body).raise_for_status()


def push(client: httpx.Client, repo: Repo, sha: str) -> int:
    body = {"repository": str(repo.path), "ref": "refs/heads/main", "after": sha}
    response = client.post("/hooks/git", json=body)
    response.raise_for_status()
    builds = response.json()["builds"]
    if len(builds) != 1:
        raise RuntimeError(f"the push of {sha} queued {builds}")
    return int(builds[0]["number"])


def first_step(build: dict[str, Any]) -> dict[str, Any] | None:
    return next((step for step in build["steps"] if step["id"] == "1"), None)


def is_reached(build: dict[str, Any], point: Point) -> bool:
    """`point` "step": step 1 has started; "end": the build has ended."""
    if point == "end":
        return build["status"] in FINAL
    step = first_step(build)
    return step is not None and bool(step["startedAt"])


def poll_build(client: httpx.Client, number: int, *, until: Point) -> dict[str, Any]:
    deadline = time.monotonic() + BUILD_TIMEOUT
    while time.monotonic() < deadline:
        response = client.get(f"/api/pipelines/{PIPELINE}/builds/{number}")
        response.raise_for_status()
        build: dict[str, Any] = response.json()
        if is_reached(build, until):
            return build
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"build #{number}: no {until} after {BUILD_TIMEOUT} s")


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + BUILD_TIMEOUT
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {BUILD_TIMEOUT} s")
        time.sleep(POLL_SECONDS)


def build_sample(client: httpx.Client, repo: Repo, sha: str, data_dir: Path) -> BuildSample:
    """Push `sha`, see step 1 running, wait until the build has ended and its worker exited."""
    began = time.time()
    number = push(client, repo, sha)
    running = poll_build(client, number, until="step")
    client_seconds = time.time() - began
    ended = poll_build(client, number, until="end")
    if ended["status"] != "success":
        raise RuntimeError(f"build #{number} ended {ended['status']}: {ended['message']}")
    wait_for_file(data_dir / "tasks" / f"build@{PIPELINE}.{number}" / "exit")
    step = first_step(running)
    assert step is not None
    server_seconds = stamp(step["startedAt"]) - stamp(running["createdAt"])
    milestones = read_milestones(data_dir / "builds" / PIPELINE / str(number), ended)
    return BuildSample(server_seconds, client_seconds, milestones)


def stamp(text: str) -> float:
    return parse_timestamp(text).timestamp()


# the worker's own timestamps


def read_milestones(build_dir: Path, build: dict[str, Any]) -> Milestones:
    lines = (build_dir / "reports.jsonl").read_text().splitlines()
    reports = [json.loads(line) for line in lines]
    build_started = next(r for r in reports if r["type"] == "build-started")
    step_started = next(r for r in reports if r["type"] == "step-started" and r["step"] == "1")
    worker_up, checked_out = birth_times(
        [build_dir / "reports.jsonl", build_dir / "source" / PIPELINE_FILE]
    )
    return Milestones(
        queued=stamp(build["createdAt"]),
        launched=stamp(build["startedAt"]),
        worker_up=worker_up,
        checked_out=checked_out,
        build_started=stamp(build_started["at"]),
        step_started=stamp(step_started["at"]),
    )


def birth_times(paths: list[Path]) -> list[float | None]:
    """When each file was made (GNU stat's %W); None where the filesystem does not say."""
    completed = subprocess.run(
        ["stat", "--format=%.9W", *map(str, paths)], capture_output=True, text=True, check=False
    )
    words = completed.stdout.split() if completed.returncode == 0 else []
    if len(words) != len(paths):
        return [None] * len(paths)
    return [float(word) if word not in ("-", "0") else None for word in words]


def segments(milestones: Milestones) -> list[tuple[str, float]]:
    """(label, seconds) between consecutive known milestones."""
    known = [
        (MILESTONE_NAMES[name], value)
        for name, value in vars(milestones).items()
        if value is not None
    ]
    return [
        (f"{before} → {after}", end - start)
        for (before, start), (after, end) in itertools.pairwise(known)
    ]


# the baseline


def by_hand_sample(repo: Repo, sha: str, scratch: Path) -> float:
    """Clone, check out, import the pipeline file, call its first step: seconds until it ran."""
    checkout, stamp_file = scratch / "checkout", scratch / "stamp"
    arguments = [str(repo.path), str(checkout), sha, sys.executable, BY_HAND]
    arguments += [str(checkout / PIPELINE_FILE), str(stamp_file)]
    began = time.time()
    subprocess.run(["sh", "-c", BY_HAND_SCRIPT, "sh", *arguments], check=True)
    return float(stamp_file.read_text()) - began


# the run


def collect(client: httpx.Client, repo: Repo, scratch: Path, count: int) -> Samples:
    """Builds and by-hand runs alternating (odd samples by hand first), after a warm-up."""
    data_dir = Path(client.get("/api/info").json()["data_dir"])
    samples = Samples()
    for index in range(WARM_UP + count):
        sha = repo.commit({"notes.txt": f"sample {index}\n"}, message=f"sample {index}")
        hand_dir = scratch / f"by-hand-{index}"
        hand = by_hand_sample(repo, sha, hand_dir) if index % 2 else None
        build = build_sample(client, repo, sha, data_dir)
        if hand is None:
            hand = by_hand_sample(repo, sha, hand_dir)
        shutil.rmtree(hand_dir)
        if index >= WARM_UP:
            samples.builds.append(build)
            samples.by_hand.append(hand)
    return samples


def report(samples: Samples) -> None:
    server = [build.server for build in samples.builds]
    client = [build.client for build in samples.builds]
    print(series_line("baseline: clone + checkout + import + call", samples.by_hand, width=48))
    print(series_line("webhook received → step 1 running (server)", server, width=48))
    print(series_line("webhook sent → step 1 seen running (client)", client, width=48))
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ratio = percentile(server, fraction) / percentile(samples.by_hand, fraction)
        print(f"  ratio at {label} (server / by hand): {ratio:.2f}x")
    met = percentile(server, 0.99) <= TARGET_P99
    target = f"webhook received → first step running p99 ≤ {TARGET_P99 * 1e3:.0f} ms"
    print("  " + verdict_line(target, met=met))
    if not met:
        print_breakdown(samples.builds)
        print_worker_start(len(samples.builds))


def print_breakdown(builds: list[BuildSample]) -> None:
    """Where the time goes, segment by segment, from the server's and the worker's stamps."""
    by_label: dict[str, list[float]] = {}
    for build in builds:
        for label, seconds in segments(build.milestones):
            by_label.setdefault(label, []).append(seconds)
    total = statistics.median(build.server for build in builds)
    print("  breakdown (server and worker timestamps; median share of the median total):")
    for label, spans in by_label.items():
        share = statistics.median(spans) / total
        print(series_line(label, spans, width=48) + f"   {share:5.0%}")


def print_worker_start(rounds: int) -> None:
    """The worker's start split further: a bare interpreter against one that imports the worker
    module (alternating, `rounds` each), and the packages that import takes longest on."""
    bare: list[float] = []
    worker: list[float] = []
    for round_ in range(rounds):
        pair = [(bare, "pass"), (worker, f"import {WORKER_MODULE}")]
        for timings, code in pair[round_ % 2 :] + pair[: round_ % 2]:
            timings.append(python_seconds(code))
    print(f"  the worker's start, {rounds} interpreters of each:")
    print(series_line("python -c pass", bare, width=48))
    print(series_line(f"python -c 'import {WORKER_MODULE}'", worker, width=48))
    print("  slowest packages imported with it (cumulative, nested ones overlap):")
    for name, seconds in slowest_imports(5):
        print(f"    {name:<46} {seconds * 1e3:8.2f} ms")


def python_seconds(code: str) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - began


def slowest_imports(count: int) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time (`python -X importtime`), one run."""
    command = [sys.executable, "-X", "importtime", "-c", f"import {WORKER_MODULE}"]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    packages: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            name = fields[2].strip()
            if "." not in name and not name.startswith("_"):
                packages[name] = max(packages.get(name, 0.0), int(fields[1]) / 1e6)
    return sorted(packages.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10 samples instead of 30")
    parser.add_argument("--samples", type=int, help="timed samples of each kind (default 30)")
    arguments = parser.parse_args()
    count = arguments.samples or (10 if arguments.quick else 30)
    print(f"webhook → first step running: {count} builds and {count} by-hand runs")
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as directory:
        scratch = Path(directory)
        repo = Repo(scratch / "repository")
        repo.commit({PIPELINE_FILE: PIPELINE_SOURCE}, message="pipeline")
        with live_server() as client:
            register(client, repo)
            samples = collect(client, repo, scratch, count)
    report(samples)


if __name__ == "__main__":
    main()
