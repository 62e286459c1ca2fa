"""The example `conveyor up` creates: the sample service's pipeline tests, packages, waits for
a go, deploys the app; a commit to the sample repository starts a build (its post-commit hook
posts to /hooks/git)."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.support.gitrepos import IDENTITY
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow


def build(server: ServerProcess, number: int) -> dict:  # type: ignore[type-arg]
    url = f"{server.url}/api/pipelines/hello-service/builds/{number}"
    return httpx.get(url, timeout=10).json()  # type: ignore[no-any-return]


def test_the_example_pipeline_builds_deploys_and_follows_commits(
    server_factory: type[ServerProcess],
) -> None:
    server = server_factory(subcommand="up").start()
    waiting = wait_for(
        lambda: (b := build(server, 1)).get("status") == "waiting" and b, timeout=120
    )
    assert [s["status"] for s in waiting["steps"]] == [
        "success",
        "success",
        "success",
        "waiting",
        "pending",
    ]
    release = f"{server.url}/api/pipelines/hello-service/builds/1/steps/4/release"
    answer = httpx.post(release, json={"by": "tester", "parameters": {"instances": 1}})
    assert answer.status_code == 200, answer.text
    done = wait_for(
        lambda: (b := build(server, 1))["status"] in ("success", "failure") and b, timeout=120
    )
    assert done["status"] == "success", done
    app = httpx.get(f"{server.url}/v2/apps/examples/hello-service").json()["app"]
    task = app["tasks"][0]
    assert httpx.get(f"http://{task['host']}:{task['ports'][0]}/").text.startswith("hello")

    repository = server.data_dir / "examples" / "hello-service"
    (repository / "app.py").write_text(
        (repository / "app.py").read_text().replace("hello from", "hello again from")
    )
    subprocess.run(["git", *IDENTITY, "commit", "-qam", "new greeting"], cwd=repository, check=True)
    second = wait_for(lambda: build(server, 2).get("trigger"), timeout=30)
    assert second["kind"] == "webhook"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert second["commit"] == head
    httpx.post(f"{server.url}/api/pipelines/hello-service/builds/2/kill", json={})
    wait_for(lambda: build(server, 2)["status"] == "killed", timeout=60)
