"""The worker end to end: a real git repository, `python -m conveyor.pipelines.worker`, and a
real HTTP peer standing in for the server's report endpoint (`peer.py`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conveyor.domain.build_orders import RecordedStep
from conveyor.domain.builds import BuildStatus, StepStatus
from tests.pipelines.conftest import (
    SIMPLE_PIPELINE,
    Repository,
    Workers,
    assert_each_report_once,
    commit_files,
    wait_exit,
    write_order,
)
from tests.pipelines.peer import ReportPeer

pytestmark = pytest.mark.slow


def test_the_worker_runs_the_pipeline_of_the_commit_and_reports_everything(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    repository, commit = make_repository({"conveyor_pipeline.py": SIMPLE_PIPELINE})
    commit_files(repository, {"README": "later"})  # the build is of the older commit
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), commit=commit, server=peer.url)
    peer.start()

    worker = workers.start(build_dir)

    assert wait_exit(worker, build_dir) == 0
    started = peer.started()
    assert started.commit == commit
    digest = hashlib.sha256(SIMPLE_PIPELINE.encode()).hexdigest()
    assert started.pipeline_file_digest == digest
    assert [name for _, name in started.structure] == ["greet", "in_parallel", "check", "check"]
    assert peer.output_text((1,)) == ["hello from demo"]
    assert peer.output_text((2, 1)) == peer.output_text((2, 2)) == ["built"]
    assert peer.finished() is not None and peer.finished().status is BuildStatus.SUCCESS  # type: ignore[union-attr]
    assert (build_dir / "workspace" / "artifact").exists()
    assert (build_dir / "source" / "conveyor_pipeline.py").read_text() == SIMPLE_PIPELINE
    assert_each_report_once(peer, build_dir)
    assert peer.refused == 0


def test_the_worker_builds_the_head_of_the_branch_when_the_order_names_no_commit(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    repository, _ = make_repository({"conveyor_pipeline.py": SIMPLE_PIPELINE})
    head = commit_files(repository, {"README": "newer"})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir) == 0
    assert peer.started().commit == head


def test_a_pipeline_file_that_does_not_load_fails_the_build_with_the_reason(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    repository, commit = make_repository({"conveyor_pipeline.py": "pipeline = (\n"})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), server=peer.url)
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir) == 0
    assert peer.started().commit == commit
    finished = peer.finished()
    assert finished is not None and finished.status is BuildStatus.FAILURE
    assert "SyntaxError" in (finished.message or "")


def test_a_missing_repository_fails_the_build(
    tmp_path: Path, workers: Workers, peer: ReportPeer
) -> None:
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(tmp_path / "nowhere"), server=peer.url)
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir) == 0
    finished = peer.finished()
    assert finished is not None and finished.status is BuildStatus.FAILURE
    assert (finished.message or "").startswith("cannot check out the pipeline")


def test_a_commit_the_repository_lacks_fails_the_build_saying_so(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    repository, _ = make_repository({"conveyor_pipeline.py": SIMPLE_PIPELINE})
    build_dir = tmp_path / "build"
    write_order(build_dir, repository=str(repository), commit="deadbeef", server=peer.url)
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir) == 0
    finished = peer.finished()
    assert finished is not None and finished.status is BuildStatus.FAILURE
    assert (finished.message or "").startswith(
        f"cannot check out the pipeline: there is no commit deadbeef in {repository} ("
    ), finished.message


def test_a_retriggered_build_reuses_recorded_steps_in_the_original_workspace(
    tmp_path: Path, make_repository: Repository, workers: Workers, peer: ReportPeer
) -> None:
    pipeline = """
from conveyor.pipelines import Pipeline, shell

def compile(args, ctx):
    return shell(ctx, "echo compiled > compiled.txt; touch compile-ran-again")

def test(args, ctx):
    return shell(ctx, "touch test-ran-again")

def package(args, ctx):
    return shell(ctx, f"cat compiled.txt; echo version {args['version']}")

pipeline = Pipeline("demo", [compile, test, package])
"""
    repository, commit = make_repository({"conveyor_pipeline.py": pipeline})
    workspace = tmp_path / "original-workspace"
    workspace.mkdir()
    (workspace / "compiled.txt").write_text("compiled by build 1\n")
    recorded = (
        RecordedStep((1,), "compile", StepStatus.SUCCESS, {}),
        RecordedStep((2,), "test", StepStatus.SUCCESS, {"version": "7"}),
    )
    build_dir = tmp_path / "build-2"
    write_order(
        build_dir,
        number=2,
        repository=str(repository),
        commit=commit,
        server=peer.url,
        workspace=str(workspace),
        retrigger_from=(3,),
        recorded=recorded,
    )
    peer.start()

    assert wait_exit(workers.start(build_dir), build_dir) == 0
    assert peer.output_text((3,)) == ["compiled by build 1", "version 7"]
    reused = {step: report.reused for step, report in peer.finished_steps().items()}
    assert reused == {(1,): True, (2,): True, (3,): False}
    assert not (workspace / "compile-ran-again").exists()
    assert not (workspace / "test-ran-again").exists()
