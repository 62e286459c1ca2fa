"""The pipelines README.md and docs/pipelines.md show, run as a new user would run them: copied
into a repository with a small service, registered, triggered, released."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.gitrepos import Repo
from tests.support.servers import ServerProcess, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

SERVICE = {
    "app.py": textwrap.dedent(
        """
        import http.server
        import os

        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"hello from the documented pipeline")

        if __name__ == "__main__":
            port = int(os.environ.get("PORT0", "8000"))
            http.server.HTTPServer(("127.0.0.1", port), Hello).serve_forever()
        """
    ),
    "test_app.py": textwrap.dedent(
        """
        import unittest

        class AppTest(unittest.TestCase):
            def test_it_imports(self):
                import app
                self.assertTrue(app.Hello)
        """
    ),
}


def python_block(markdown: Path, containing: str) -> str:
    """The ```python block of `markdown` that contains `containing`."""
    blocks = re.findall(r"```python\n(.*?)```", markdown.read_text(), flags=re.DOTALL)
    return next(block for block in blocks if containing in block)


def build(server: ServerProcess, name: str, number: int) -> dict:  # type: ignore[type-arg]
    url = f"{server.url}/api/pipelines/{name}/builds/{number}"
    return httpx.get(url, timeout=10).json()  # type: ignore[no-any-return]


def status_is(server: ServerProcess, name: str, number: int, *statuses: str) -> dict | None:  # type: ignore[type-arg]
    current = build(server, name, number)
    return current if current["status"] in statuses else None


def register_and_trigger(server: ServerProcess, repo: Repo) -> int:
    body = {"name": "shop-web", "repository": str(repo.path)}
    added = httpx.post(f"{server.url}/api/pipelines", json=body, timeout=10)
    assert added.status_code == 201, added.text
    triggered = httpx.post(f"{server.url}/api/pipelines/shop-web/builds", json={}, timeout=10)
    assert triggered.status_code == 201, triggered.text
    return int(triggered.json()["number"])


def release(server: ServerProcess, number: int, step: str, **parameters: object) -> None:
    url = f"{server.url}/api/pipelines/shop-web/builds/{number}/steps/{step}/release"
    answer = httpx.post(url, json={"by": "new user", "parameters": parameters}, timeout=10)
    assert answer.status_code == 200, answer.text


def test_the_complete_pipeline_of_the_docs_tests_packages_and_deploys(
    server: ServerProcess, tmp_path: Path
) -> None:
    pipeline = python_block(ROOT / "docs" / "pipelines.md", "deploy_app(app_definition)")
    repo = Repo(tmp_path / "shop-web")
    repo.commit({**SERVICE, "conveyor_pipeline.py": pipeline})

    number = register_and_trigger(server, repo)
    waiting = wait_for(
        lambda: status_is(server, "shop-web", number, "waiting", "failure"), timeout=120
    )
    assert waiting["status"] == "waiting", waiting
    release(server, number, "4", instances=1)

    done = wait_for(
        lambda: status_is(server, "shop-web", number, "success", "failure"), timeout=120
    )
    assert done["status"] == "success", done
    app = httpx.get(f"{server.url}/v2/apps/shop/web", timeout=10).json()["app"]
    task = app["tasks"][0]
    served = httpx.get(f"http://{task['host']}:{task['ports'][0]}/", timeout=10).text
    assert served == "hello from the documented pipeline"
    assert [b["number"] for b in builds(server)] == [number], "registering built nothing"


def test_the_pipeline_of_the_readme_runs_on_a_fresh_machine(
    server: ServerProcess, tmp_path: Path
) -> None:
    pipeline = python_block(ROOT / "README.md", 'Pipeline(name="shop-web"')
    repo = Repo(tmp_path / "shop-web")
    repo.commit({**SERVICE, "conveyor_pipeline.py": pipeline})

    number = register_and_trigger(server, repo)
    waiting = wait_for(
        lambda: status_is(server, "shop-web", number, "waiting", "failure"), timeout=120
    )
    assert [s["status"] for s in waiting["steps"]] == ["success", "success", "waiting"], waiting
    release(server, number, "3")

    done = wait_for(lambda: status_is(server, "shop-web", number, "success", "failure"), timeout=60)
    assert done["status"] == "success", done


def builds(server: ServerProcess) -> list[dict]:  # type: ignore[type-arg]
    page = httpx.get(f"{server.url}/api/pipelines/shop-web/builds", timeout=10).json()
    return page["builds"]  # type: ignore[no-any-return]
