"""End to end: `conveyor pipelines ...` against a real server, with a real git repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.cli.pipeline_support import (
    GREETING,
    SLOW,
    add_pipeline,
    build_of,
    conveyor,
    repository,
    wait_for_status,
)
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


def test_a_pipeline_is_added_listed_shown_changed_and_removed(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository(tmp_path, GREETING)
    monkeypatch.chdir(tmp_path)

    added = conveyor(
        server, "pipelines", "add", "greeting", "svc", "--no-poll", "--keep-builds", "5"
    )
    assert added.exit_code == 0, added.output
    assert f"added pipeline greeting: {repo.path.resolve()} (main)" in added.stdout
    assert "`conveyor builds trigger greeting` builds what is there now" in added.stdout

    listed = conveyor(server, "pipelines", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "greeting" in line)
    assert str(repo.path.resolve()) in row
    assert "main" in row

    shown = conveyor(server, "pipelines", "show", "greeting")
    assert shown.exit_code == 0, shown.output
    assert "never (webhooks and triggers only)" in shown.stdout
    assert "the newest 5 builds, of any age" in shown.stdout
    assert "no builds yet" in shown.stdout

    again = conveyor(server, "pipelines", "add", "greeting", "svc")
    assert again.exit_code == 1
    assert "error: pipeline greeting exists already; --replace changes it" in again.stderr
    changed = conveyor(
        server,
        "pipelines",
        "add",
        "greeting",
        "svc",
        "--replace",
        "--no-poll",
        "--max-concurrent",
        "2",
    )
    assert changed.exit_code == 0, changed.output
    assert "changed pipeline greeting" in changed.stdout
    as_json = json.loads(conveyor(server, "pipelines", "show", "greeting", "--json").stdout)
    assert as_json["maxConcurrentBuilds"] == 2
    assert (as_json["pollSeconds"], as_json["repository"]) == (None, str(repo.path.resolve()))

    removed = conveyor(server, "pipelines", "remove", "greeting")
    assert removed.exit_code == 0, removed.output
    assert "no pipelines" in conveyor(server, "pipelines", "list").stdout
    missing = conveyor(server, "pipelines", "show", "greeting")
    assert missing.exit_code == 1
    assert "Pipeline 'greeting' does not exist" in missing.stderr


def test_the_list_shows_each_pipelines_last_build(server: ServerProcess, tmp_path: Path) -> None:
    add_pipeline(server, "greeting", repository(tmp_path, GREETING))
    assert conveyor(server, "builds", "trigger", "greeting", "--follow").exit_code == 0

    listed = conveyor(server, "pipelines", "list")
    row = next(line for line in listed.stdout.splitlines() if "greeting" in line)
    assert "#1 ✔ success" in row
    assert "s ago" in row
    shown = conveyor(server, "pipelines", "show", "greeting")
    assert "manual by" in shown.stdout
    listed_json = json.loads(conveyor(server, "pipelines", "list", "--json").stdout)
    assert listed_json["pipelines"][0]["lastBuild"]["number"] == 1


def test_a_pipeline_with_a_running_build_is_not_removed(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "slow", repository(tmp_path, SLOW))
    assert conveyor(server, "builds", "trigger", "slow").exit_code == 0

    refused = conveyor(server, "pipelines", "remove", "slow")
    assert refused.exit_code == 1
    assert "Pipeline 'slow' has unfinished builds [1]; kill them first" in refused.stderr

    assert conveyor(server, "builds", "kill", "slow", "1").exit_code == 0
    wait_for_status(server, "slow", 1, "killed")
    assert conveyor(server, "pipelines", "remove", "slow").exit_code == 0


def test_a_repository_that_is_not_there_or_not_git_is_refused_naming_the_field(
    server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "plain").mkdir()

    missing = conveyor(server, "pipelines", "add", "svc", str(tmp_path / "nowhere"))
    not_git = conveyor(server, "pipelines", "add", "svc", str(tmp_path / "plain"))
    as_url = httpx.post(
        f"{server.url}/api/pipelines",
        json={"name": "svc", "repository": (tmp_path / "nowhere").as_uri()},
    )
    relative = httpx.post(
        f"{server.url}/api/pipelines", json={"name": "svc", "repository": "some/dir"}
    )

    assert missing.exit_code == 1
    assert f"  repository: {tmp_path / 'nowhere'} does not exist" in missing.stderr
    assert not_git.exit_code == 1
    assert f"  repository: {tmp_path / 'plain'} is not a git repository" in not_git.stderr
    assert as_url.status_code == 422, as_url.text
    assert as_url.json()["details"][0]["path"] == "/repository"
    assert relative.status_code == 422, relative.text
    assert "absolute path" in str(relative.json()["details"])
    assert "no pipelines" in conveyor(server, "pipelines", "list").stdout


def test_show_tells_why_polling_fails(server: ServerProcess, tmp_path: Path) -> None:
    repo = repository(tmp_path, GREETING)
    added = conveyor(server, "pipelines", "add", "svc", str(repo.path), "--poll-seconds", "1")
    assert added.exit_code == 0, added.output
    shutil.rmtree(repo.path)

    def polling_error() -> object:
        shown = json.loads(conveyor(server, "pipelines", "show", "svc", "--json").stdout)
        return shown["pollingError"]

    error = wait_for(polling_error, timeout=30, message="a polling error")
    assert isinstance(error, dict)
    assert "does not appear to be a git repository" in error["message"], error
    shown = conveyor(server, "pipelines", "show", "svc")
    assert "polling error" in shown.stdout
    assert "git ls-remote failed:" in shown.stdout


def test_triggering_a_commit_the_repository_lacks_is_refused(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = repository(tmp_path, GREETING)
    add_pipeline(server, "greeting", repo)
    head = repo.commit({"notes.txt": "more"})

    refused = conveyor(server, "builds", "trigger", "greeting", "--commit", "deadbeef")
    short = conveyor(server, "builds", "trigger", "greeting", "--commit", head[:10])

    assert refused.exit_code == 1
    assert f"  commit: {repo.path} has no commit deadbeef" in refused.stderr
    empty = httpx.post(f"{server.url}/api/pipelines/greeting/builds", json={"commit": " "})
    assert empty.status_code == 422, empty.text
    assert empty.json()["details"][0]["path"] == "/commit"
    assert short.exit_code == 0, short.output
    assert "triggered greeting #1" in short.stdout
    assert build_of(server, "greeting", 1)["trigger"]["commit"] == head
