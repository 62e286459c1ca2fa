"""The worker talking to the server: catching up after an outage, commands (release, kill),
the build timeout, and memory that stays bounded whatever a step prints."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from conveyor.domain.build_reports import (
    BuildFinished,
    KillBuild,
    NumberedReport,
    ReleaseStep,
    StepStarted,
    StepWaiting,
)
from conveyor.domain.builds import BuildStatus
from conveyor.pipelines.reporters.spool import read_spool
from conveyor.pipelines.worker import EXIT_TERMINATED, EXIT_UNSHIPPED, TERMINATED
from tests.pipelines.conftest import (
    SIMPLE_PIPELINE,
    Repository,
    Workers,
    assert_each_report_once,
    create_repository,
    is_gone,
    read_pid,
    wait_exit,
    write_order,
)
from tests.pipelines.peer import ReportPeer
from tests.support.servers import wait_for

pytestmark = pytest.mark.slow


def test_the_worker_catches_up_when_the_server_is_away_and_comes_back(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = SIMPLE_PIPELINE.replace(
        "steps=[greet,", 'steps=[lambda a, c: shell(c, "echo one; sleep 2; echo two"), greet,'
    )
    repository, _ = make_repository({"conveyor_pipeline.py": pipeline})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)

    worker = workers.start(build_dir)  # nobody answers yet
    wait_for((build_dir / "reports.jsonl").exists, timeout=20)
    time.sleep(1.0)
    peer.start()
    wait_for(lambda: peer.output_text((1,)) == ["one"], timeout=20)
    peer.stop()  # away again while the step runs
    time.sleep(2.5)
    peer.start()

    assert wait_exit(worker, build_dir) == 0
    assert peer.output_text((1,)) == ["one", "two"]
    assert peer.finished().status is BuildStatus.SUCCESS  # type: ignore[union-attr]
    assert_each_report_once(peer, build_dir)
    assert "cannot reach" in (build_dir / "worker.log").read_text()


def test_a_release_from_the_server_releases_the_manual_trigger(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = """
from conveyor.pipelines import Pipeline, manual_trigger, shell

def deploy(args, ctx):
    return shell(ctx, f"echo deploying {args['version']} x{args['replicas']}")

pipeline = Pipeline("demo", [
    manual_trigger("ship?", {"version": "1.0", "replicas": {"type": "integer", "default": 1}}),
    deploy,
])
"""
    repository, _ = make_repository({"conveyor_pipeline.py": pipeline})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)

    def release_when_waiting(numbered: NumberedReport) -> None:
        if isinstance(numbered.report, StepWaiting):
            peer.send(ReleaseStep((1,), by="alice", parameters={"version": "2.0"}))

    peer.on_report = release_when_waiting
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir) == 0
    assert peer.output_text((2,)) == ["deploying 2.0 x1"]
    released = peer.finished_steps()[(1,)]
    assert (released.released_by, released.released_parameters) == (
        "alice",
        {"version": "2.0", "replicas": 1},
    )
    assert peer.finished().status is BuildStatus.SUCCESS  # type: ignore[union-attr]


def test_a_kill_from_the_server_kills_the_build_and_its_processes(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = """
from conveyor.pipelines import Pipeline, shell

def forever(args, ctx):
    return shell(ctx, "sleep 100 & echo $! > sleep.pid; wait")

def never(args, ctx):
    return shell(ctx, "touch never-ran")

pipeline = Pipeline("demo", [forever, never])
"""
    repository, _ = make_repository({"conveyor_pipeline.py": pipeline})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)
    peer.start()

    worker = workers.start(build_dir)
    pid = read_pid(build_dir / "workspace" / "sleep.pid", timeout=30)
    wait_for(lambda: peer.of_type(StepStarted), timeout=10)
    peer.send(KillBuild("stopped by alice"))

    assert wait_exit(worker, build_dir) == 0
    finished = peer.finished()
    assert finished is not None
    assert (finished.status, finished.message) == (BuildStatus.KILLED, "stopped by alice")
    assert is_gone(pid)
    assert not (build_dir / "workspace" / "never-ran").exists()


def test_a_build_that_runs_past_its_timeout_fails(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = """
from conveyor.pipelines import Pipeline, shell
pipeline = Pipeline("demo", [lambda args, ctx: shell(ctx, "sleep 100")])
"""
    repository, _ = make_repository({"conveyor_pipeline.py": pipeline})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url, timeout_seconds=2)
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir, timeout=30) == 0
    finished = peer.finished()
    assert finished is not None
    assert (finished.status, finished.message) == (
        BuildStatus.FAILURE,
        "build timed out after 2 s",
    )


def peak_memory_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


LINE = "the quick brown fox jumps over the lazy dog 0123456789 abcdefghij"


def run_printing(lines: int, directory: Path, workers: Workers) -> tuple[int, int]:
    """Run a build whose one step prints `lines` lines; (the worker's peak RSS in KiB, the
    lines the peer received)."""
    pipeline = f"""
from conveyor.pipelines import Pipeline, shell
pipeline = Pipeline("demo", [lambda args, ctx: shell(ctx, "yes '{LINE}' | head -n {lines}")])
"""
    repository, commit = create_repository(
        directory / "repository", {"conveyor_pipeline.py": pipeline}
    )
    peer = ReportPeer(keep_output=False)
    build_dir = directory / "build"
    write_order(build_dir, repository=str(repository), commit=commit, server=peer.url)
    peaks: list[int] = []
    worker_pid: list[int] = []

    def measure(numbered: NumberedReport) -> None:
        if isinstance(numbered.report, BuildFinished):  # the worker waits for the answer
            peaks.append(peak_memory_kib(worker_pid[0]))

    peer.on_report = measure
    peer.start()
    try:
        worker = workers.start(build_dir)
        worker_pid.append(worker.pid)
        assert wait_exit(worker, build_dir, timeout=240) == 0
    finally:
        peer.stop()
    return peaks[0], peer.output_line_counts.get((1,), 0)


def test_a_step_printing_lots_of_output_runs_in_bounded_memory(
    tmp_path: Path, workers: Workers
) -> None:
    small, large = 1_000_000 // (len(LINE) + 1), 60_000_000 // (len(LINE) + 1)

    small_peak, small_received = run_printing(small, tmp_path / "small", workers)
    large_peak, large_received = run_printing(large, tmp_path / "large", workers)

    assert (small_received, large_received) == (small, large)
    growth_mib = (large_peak - small_peak) / 1024
    print(
        f"peak RSS: {small_peak / 1024:.1f} MiB (1 MB output), {large_peak / 1024:.1f} MiB (60 MB)"
    )
    # a worker that kept the output would grow by at least the 59 MB more it printed; what
    # remains is buffers and the allocator, which a busy machine makes vary
    assert growth_mib < 30, f"peak RSS grew {growth_mib:.1f} MiB for 59 MB more output"


def test_a_terminated_worker_waiting_at_a_manual_step_ends_soon_with_the_reason_spooled(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = """
from conveyor.pipelines import Pipeline, manual_trigger, shell

pipeline = Pipeline("demo", [manual_trigger("ship?"), lambda a, c: shell(c, "touch shipped")])
"""
    repository, _ = make_repository({"conveyor_pipeline.py": pipeline})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)
    peer.start()
    worker = workers.start(build_dir, ship_deadline=600)
    wait_for(lambda: peer.of_type(StepWaiting), timeout=30)
    peer.stop()  # the server is away: the worker must not wait for it to come back

    worker.send_signal(signal.SIGTERM)

    assert wait_exit(worker, build_dir, timeout=60) == EXIT_UNSHIPPED
    ends = [
        r for r, _ in read_spool(build_dir / "reports.jsonl") if isinstance(r.report, BuildFinished)
    ]
    assert [(e.report.status, e.report.message) for e in ends] == [  # type: ignore[attr-defined]
        (BuildStatus.KILLED, "the build worker was terminated")
    ]
    assert not (build_dir / "workspace" / "shipped").exists()


def test_a_terminated_worker_whose_step_ignores_the_kill_exits_anyway(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = """
import time
from conveyor.pipelines import Pipeline

def stubborn(args, ctx):
    ctx.print("sleeping")
    time.sleep(120)
    return {"status": "success"}

pipeline = Pipeline("demo", [stubborn])
"""
    repository, _ = make_repository({"conveyor_pipeline.py": pipeline})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)
    peer.start()
    worker = workers.start(build_dir)
    wait_for(lambda: peer.output_text((1,)) == ["sleeping"], timeout=30)

    worker.send_signal(signal.SIGTERM)

    assert wait_exit(worker, build_dir, timeout=60) == EXIT_TERMINATED
    ends = [r.report for r, _ in read_spool(build_dir / "reports.jsonl")]
    assert isinstance(ends[-1], BuildFinished)
    assert (ends[-1].status, ends[-1].message) == (BuildStatus.KILLED, TERMINATED)
