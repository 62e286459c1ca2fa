"""Fixtures for the pipeline tests: contexts, real git repositories, real worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from conveyor.domain.build_orders import BuildOrder, order_to_json
from conveyor.domain.builds import BuildStatus
from conveyor.pipelines import Context, Pipeline, run_build
from conveyor.pipelines.reporters.memory import MemoryReporter
from conveyor.pipelines.reporters.spool import read_spool
from tests.pipelines.peer import ReportPeer
from tests.support.servers import wait_for

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
}


SIMPLE_PIPELINE = """
from conveyor.pipelines import Pipeline, in_parallel, shell

def greet(args, ctx):
    return shell(ctx, "echo hello from $CONVEYOR_PIPELINE; echo built > artifact")

def check(args, ctx):
    return shell(ctx, "cat artifact")

pipeline = Pipeline(name="demo", steps=[greet, in_parallel(check, check)])
"""

Repository = Callable[[dict[str, str]], tuple[Path, str]]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def context(workspace: Path) -> Context:
    return Context.for_build("demo", 1, workspace)


def run(steps: list[Any], context: Context, **options: Any) -> tuple[BuildStatus, MemoryReporter]:
    reporter = MemoryReporter()
    status = run_build(Pipeline("demo", steps), context=context, reporter=reporter, **options)
    return status, reporter


def is_gone(pid: int) -> bool:
    """No such process, or only its zombie (nothing reaps orphans in some containers)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def read_pid(path: Path, timeout: float = 10.0) -> int:
    def written() -> str:
        return path.read_text().strip() if path.exists() else ""

    return int(wait_for(written, timeout=timeout, interval=0.02, message=f"a pid in {path}"))


def git(directory: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(directory), *arguments],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    return completed.stdout.strip()


def commit_files(repository: Path, files: dict[str, str], message: str = "change") -> str:
    """Write `files` into the repository and commit them; returns the commit id."""
    for name, text in files.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_text(text)
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "-m", message)
    return git(repository, "rev-parse", "HEAD")


def create_repository(repository: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A new git repository with `files` committed on `main`; (its path, the commit)."""
    repository.mkdir(parents=True)
    git(repository, "init", "--quiet", "--initial-branch=main")
    return repository, commit_files(repository, files, "first")


@pytest.fixture
def make_repository(tmp_path: Path) -> Repository:
    return lambda files: create_repository(tmp_path / "repository", files)


def write_order(build_dir: Path, **fields: Any) -> BuildOrder:
    build_dir.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        "pipeline": "demo",
        "number": 1,
        "branch": "main",
        "file": "conveyor_pipeline.py",
        "commit": None,
        "workspace": str(build_dir / "workspace"),
        "token": "secret",
    }
    order = BuildOrder(**{**defaults, **fields})
    (build_dir / "build.json").write_text(order_to_json(order))
    return order


class Workers:
    """Starts `python -m conveyor.pipelines.worker` processes; ends those still running."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, build_dir: Path, *, ship_deadline: float = 60.0) -> subprocess.Popen[bytes]:
        with (build_dir / "worker.log").open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "conveyor.pipelines.worker",
                    str(build_dir),
                    "--ship-deadline",
                    str(ship_deadline),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def end_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # the worker kills its steps' groups
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


@pytest.fixture
def workers() -> Iterator[Workers]:
    started = Workers()
    yield started
    started.end_all()


def wait_exit(process: subprocess.Popen[bytes], build_dir: Path, timeout: float = 60.0) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log = (build_dir / "worker.log").read_text(errors="replace")
        raise AssertionError(f"the worker did not exit in {timeout}s:\n{log}") from None


def elapsed(since: float) -> float:
    return time.monotonic() - since


@pytest.fixture
def peer() -> Iterator[ReportPeer]:
    """A report peer, not started yet (`peer.start()`), stopped when the test ends."""
    peer = ReportPeer()
    yield peer
    peer.stop()


def assert_each_report_once(peer: ReportPeer, build_dir: Path) -> None:
    """The peer has every report of the spool, numbered 1..N, none of them twice."""
    in_spool = [numbered.seq for numbered, _ in read_spool(build_dir / "reports.jsonl")]
    assert sorted(peer.reports) == in_spool == list(range(1, len(in_spool) + 1))
    assert peer.duplicates == []
