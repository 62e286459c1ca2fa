"""Pipelines end to end: a real server, real git repositories, real build workers."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.gitrepos import Repo
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow

THREE_STEPS = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, shell

    def first(args, ctx):
        return shell(ctx, "echo one > first.txt; echo 'first ran' >> ../runs.log; echo {flavour}")

    def second(args, ctx):
        return shell(ctx, "echo two > second.txt; echo 'second ran' >> ../runs.log")

    def third(args, ctx):
        return shell(ctx, "cat first.txt second.txt; echo 'third ran' >> ../runs.log")

    pipeline = Pipeline(name="three", steps=[first, second, third])
    """
)


def register(server: ServerProcess, name: str, repo: Repo, **extra: object) -> None:
    body = {"name": name, "repository": str(repo.path), "branch": repo.branch, "pollSeconds": None}
    response = httpx.post(f"{server.url}/api/pipelines", json={**body, **extra}, timeout=10)
    assert response.status_code == 201, response.text


def build(server: ServerProcess, name: str, number: int) -> dict:  # type: ignore[type-arg]
    response = httpx.get(f"{server.url}/api/pipelines/{name}/builds/{number}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def finished(server: ServerProcess, name: str, number: int) -> dict | None:  # type: ignore[type-arg]
    current = build(server, name, number)
    return current if current["status"] in ("success", "failure", "killed") else None


def output(server: ServerProcess, name: str, number: int, step: str) -> str:
    url = f"{server.url}/api/pipelines/{name}/builds/{number}/steps/{step}/output"
    return httpx.get(url, timeout=30).text


def push(server: ServerProcess, repo: Repo, sha: str) -> httpx.Response:
    body = {"repository": str(repo.path), "ref": f"refs/heads/{repo.branch}", "after": sha}
    return httpx.post(f"{server.url}/hooks/git", json=body, timeout=10)


def builds_of(server: ServerProcess, name: str) -> list[dict]:  # type: ignore[type-arg]
    page = httpx.get(f"{server.url}/api/pipelines/{name}/builds", params={"limit": 100}).json()
    return page["builds"]  # type: ignore[no-any-return]


def test_a_push_builds_exactly_that_commits_pipeline(server: ServerProcess, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "service")
    old = repo.commit({"conveyor_pipeline.py": THREE_STEPS.format(flavour="old-pipeline")})
    new = repo.commit({"conveyor_pipeline.py": THREE_STEPS.format(flavour="new-pipeline")})
    register(server, "three", repo)

    response = push(server, repo, old)
    assert response.status_code == 202, response.text
    number = response.json()["builds"][0]["number"]
    done = wait_for(lambda: finished(server, "three", number), timeout=60, message="build done")
    assert done["status"] == "success", done
    assert done["commit"] == old
    assert "old-pipeline" in output(server, "three", number, "1")
    assert [s["status"] for s in done["steps"]] == ["success"] * 3

    again = push(server, repo, old)
    assert again.json()["builds"] == [], "the same commit is not built twice"
    newer = push(server, repo, new).json()["builds"][0]["number"]
    wait_for(lambda: finished(server, "three", newer), timeout=60, message="second build")
    assert "new-pipeline" in output(server, "three", newer, "1")


def test_pushes_while_the_server_is_down_are_built_after_restart_each_once(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    first_sha = repo.commit({"conveyor_pipeline.py": THREE_STEPS.format(flavour="a")})
    server = server_factory(tmp_path / "data").start()
    register(server, "three", repo, pollSeconds=1)
    httpx.post(f"{server.url}/api/pipelines/three/builds", json={}, timeout=10)
    wait_for(lambda: [b for b in builds_of(server, "three") if b["commit"] == first_sha])
    wait_for(lambda: all(b["status"] == "success" for b in builds_of(server, "three")), timeout=60)
    server.stop()

    missed = [repo.commit({"notes.txt": f"change {i}"}, message=f"change {i}") for i in range(3)]
    again = server_factory(tmp_path / "data", port=server.port, port_range=server.port_range)
    again.start()

    def built_commits() -> list[str]:
        return [b["commit"] for b in reversed(builds_of(again, "three"))]

    wait_for(lambda: built_commits()[1:] == missed, timeout=60, message="the missed pushes")
    time.sleep(3)  # further polls must not build them again
    assert built_commits() == [first_sha, *missed]


def test_retrigger_from_the_third_step_reuses_the_first_two_and_their_files(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": THREE_STEPS.format(flavour="x")})
    register(server, "three", repo)
    number = httpx.post(f"{server.url}/api/pipelines/three/builds", json={}).json()["number"]
    original = wait_for(lambda: finished(server, "three", number), timeout=60)
    assert original["status"] == "success"

    response = httpx.post(
        f"{server.url}/api/pipelines/three/builds/{number}/retrigger", json={"step": "3"}
    )
    assert response.status_code == 201, response.text
    retried = response.json()
    assert retried["retriggeredFrom"] == {"number": number, "step": "3"}
    done = wait_for(lambda: finished(server, "three", retried["number"]), timeout=60)
    assert done["status"] == "success", done
    assert [s["reused"] for s in done["steps"]] == [True, True, False]
    assert output(server, "three", retried["number"], "3").split() == ["one", "two"]
    # a reused step shows what it printed when it ran, in the original build
    assert output(server, "three", retried["number"], "1").split() == ["x"]
    assert output(server, "three", retried["number"], "2") == output(server, "three", number, "2")
    assert done["pipelineFileChanged"] is False
    runs = (Path(original_workspace(server, number)).parent / "runs.log").read_text().split("\n")
    assert [line for line in runs if line] == [
        "first ran",
        "second ran",
        "third ran",
        "third ran",
    ], "steps 1 and 2 did not run again"


def original_workspace(server: ServerProcess, number: int) -> str:
    return str(server.data_dir / "builds" / "three" / str(number) / "workspace")


MANUAL = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, manual_trigger, shell

    def announce(args, ctx):
        return shell(ctx, f"echo releasing version {args['version']} to {args['target']}")

    pipeline = Pipeline(
        name="gate",
        steps=[
            manual_trigger(
                "Ship it?",
                parameters={
                    "version": {"type": "string", "default": "1.0"},
                    "target": {"type": "string", "default": "staging"},
                },
            ),
            announce,
        ],
    )
    """
)


def test_a_manual_trigger_waits_until_released_and_passes_its_parameters(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": MANUAL})
    register(server, "gate", repo)
    number = httpx.post(f"{server.url}/api/pipelines/gate/builds", json={}).json()["number"]
    waiting = wait_for(
        lambda: (b := build(server, "gate", number))["status"] == "waiting" and b, timeout=60
    )
    assert waiting["steps"][0]["status"] == "waiting"
    assert waiting["steps"][0]["manual"]["prompt"] == "Ship it?"
    time.sleep(1)
    assert build(server, "gate", number)["steps"][1]["status"] == "pending"

    url = f"{server.url}/api/pipelines/gate/builds/{number}/steps/1/release"
    bad = httpx.post(url, json={"by": "ada", "parameters": {"nope": 1}})
    assert bad.status_code == 422
    assert bad.json()["details"][0]["path"] == "/parameters/nope"
    released = httpx.post(url, json={"by": "ada", "parameters": {"version": "2.5"}})
    assert released.status_code == 200, released.text

    done = wait_for(lambda: finished(server, "gate", number), timeout=60)
    assert done["status"] == "success", done
    assert "releasing version 2.5 to staging" in output(server, "gate", number, "2")
    manual = done["steps"][0]["manual"]
    assert manual["releasedBy"] == "ada"
    assert manual["releasedParameters"] == {"version": "2.5", "target": "staging"}


def test_a_manual_step_is_released_once_a_second_release_is_a_conflict(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": MANUAL})
    register(server, "gate", repo)
    number = httpx.post(f"{server.url}/api/pipelines/gate/builds", json={}).json()["number"]
    wait_for(lambda: build(server, "gate", number)["status"] == "waiting", timeout=60)
    url = f"{server.url}/api/pipelines/gate/builds/{number}/steps/1/release"

    first = httpx.post(url, json={"by": "ada", "parameters": {"version": "2.5"}})
    second = httpx.post(url, json={"by": "bob", "parameters": {"version": "9.9"}})

    assert first.status_code == 200, first.text
    assert second.status_code == 409, second.text
    assert second.json()["message"] == f"Step 1 of build gate #{number} was already released by ada"
    done = wait_for(lambda: finished(server, "gate", number), timeout=60)
    assert done["steps"][0]["manual"]["releasedBy"] == "ada"
    assert "releasing version 2.5" in output(server, "gate", number, "2")
    late = httpx.post(url, json={"by": "bob", "parameters": {}})
    assert late.status_code == 409
    assert "already released by ada" in late.json()["message"]


SLOW = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, shell

    def slow(args, ctx):
        return shell(ctx, "for i in $(seq 1 40); do echo tick $i; sleep 0.25; done")

    def after(args, ctx):
        return shell(ctx, "echo after")

    pipeline = Pipeline(name="slow", steps=[slow, after])
    """
)


def test_a_build_survives_a_server_killed_in_its_middle(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": SLOW})
    server = server_factory(tmp_path / "data").start()
    register(server, "slow", repo)
    number = httpx.post(f"{server.url}/api/pipelines/slow/builds", json={}).json()["number"]
    wait_for(lambda: "tick 3" in output(server, "slow", number, "1"), timeout=60)
    server.kill()
    time.sleep(2)
    again = server_factory(tmp_path / "data", port=server.port, port_range=server.port_range)
    again.start()
    done = wait_for(lambda: finished(again, "slow", number), timeout=60)
    assert done["status"] == "success", done
    lines = output(again, "slow", number, "1").split("\n")
    assert lines[:40] == [f"tick {i}" for i in range(1, 41)]
    assert output(again, "slow", number, "2").strip() == "after"


def test_killing_a_build_ends_its_processes(server: ServerProcess, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": SLOW})
    register(server, "slow", repo)
    number = httpx.post(f"{server.url}/api/pipelines/slow/builds", json={}).json()["number"]
    wait_for(lambda: "tick 2" in output(server, "slow", number, "1"), timeout=60)
    sleepers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "tick $i" in " ".join(p.info["cmdline"] or [])
    ]
    assert (
        httpx.post(f"{server.url}/api/pipelines/slow/builds/{number}/kill", json={}).status_code
        == 202
    )
    done = wait_for(lambda: finished(server, "slow", number), timeout=30)
    assert done["status"] == "killed"
    assert done["steps"][0]["status"] == "killed"
    assert done["steps"][1]["status"] == "skipped"
    wait_for(lambda: not any(p.is_running() for p in sleepers), timeout=15, message="tree gone")


BIG = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, shell

    def loud(args, ctx):
        return shell(ctx, "python3 ../source/loud.py")

    pipeline = Pipeline(name="loud", steps=[loud])
    """
)
LOUD = textwrap.dedent(
    """
    import sys

    padding = "x" * 91
    for i in range(1_000_000):  # 1,000,000 lines of 100 bytes: 100 MB
        sys.stdout.write(f"{i:07d} {padding}\\n")
    """
)
SERVER_MEMORY_BOUND = 200 * 1024 * 1024
"""How much the server's resident memory may grow while it takes in 100 MB of output."""


def test_a_step_printing_100_mb_completes_with_bounded_server_memory(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": BIG, "loud.py": LOUD})
    register(server, "loud", repo)
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    baseline = process.memory_info().rss
    number = httpx.post(f"{server.url}/api/pipelines/loud/builds", json={}).json()["number"]

    followed = []
    url = f"{server.url}/api/pipelines/loud/builds/{number}/steps/1/output"
    wait_for(lambda: build(server, "loud", number)["steps"], timeout=60)
    peak = baseline
    with httpx.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=600) as live:
        for line in live.iter_lines():
            if line.startswith("data: {") and len(followed) < 200_000:
                followed.append(json.loads(line[6:]))
            if len(followed) % 50_000 == 0:
                peak = max(peak, process.memory_info().rss)
            if line.startswith("event: end"):
                break
    done = wait_for(lambda: finished(server, "loud", number), timeout=600)
    assert done["status"] == "success", done
    peak = max(peak, process.memory_info().rss)
    assert peak - baseline < SERVER_MEMORY_BOUND, f"server grew by {(peak - baseline) >> 20} MiB"

    assert [item["text"][:7] for item in followed[:1000]] == [f"{i:07d}" for i in range(1000)]
    stamps = [item["at"] for item in followed]
    assert stamps == sorted(stamps)
    total = 0
    previous = -1
    with httpx.stream("GET", url, timeout=600) as whole:
        for text in whole.iter_lines():
            number_in_line = int(text[:7])
            assert number_in_line == previous + 1
            previous = number_in_line
            total += len(text) + 1
    assert previous == 999_999
    assert total == 100_000_000


def test_a_build_whose_worker_dies_fails_with_the_reason(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": SLOW})
    register(server, "slow", repo)
    number = httpx.post(f"{server.url}/api/pipelines/slow/builds", json={}).json()["number"]
    wait_for(lambda: "tick 2" in output(server, "slow", number, "1"), timeout=60)
    build_dir = str(server.data_dir / "builds" / "slow" / str(number))
    [worker] = [
        p
        for p in psutil.process_iter(["cmdline"])
        if (p.info["cmdline"] or [])[-1:] == [build_dir]
        and "conveyor.pipelines.worker" in p.info["cmdline"]
    ]
    worker.kill()
    done = wait_for(lambda: finished(server, "slow", number), timeout=60)
    assert done["status"] == "failure"
    assert "killed by signal 9" in done["message"]
    assert [s["status"] for s in done["steps"]] == ["dead", "skipped"]
    assert done["failedSteps"] == ["1"]
    retried = httpx.post(
        f"{server.url}/api/pipelines/slow/builds/{number}/retrigger", json={"step": "1"}
    )
    assert retried.status_code == 201, "ready to retrigger"


def test_a_build_past_its_timeout_fails(server: ServerProcess, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "service")
    repo.commit({"conveyor_pipeline.py": SLOW})
    register(server, "slow", repo, buildTimeoutSeconds=2)
    number = httpx.post(f"{server.url}/api/pipelines/slow/builds", json={}).json()["number"]
    done = wait_for(lambda: finished(server, "slow", number), timeout=60)
    assert done["status"] == "failure"
    assert "timed out" in done["message"]
