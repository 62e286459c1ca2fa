"""Example content `conveyor up` adds to a new data dir, once (deleting it later is respected):

- the app `/examples/hello` (hello.json): two small HTTP servers with a health check;
- the pipeline `hello-service`: a sample service repository made in `<data-dir>/examples/
  hello-service` (a real git repository), whose pipeline tests the service, packages it, asks for
  a go and deploys it as the app `/examples/hello-service`. Its post-commit hook reports each
  commit to `/hooks/git`, so a commit there starts a build; the poller is the fallback.
"""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path

from conveyor.commands.apps import deploy
from conveyor.commands.builds import request_build
from conveyor.domain.app_json import app_from_json
from conveyor.domain.builds import Trigger, TriggerKind
from conveyor.domain.clock import Clock
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.store import Store

SEEDED = "examples.seeded"
PIPELINE = "hello-service"
FILES = {
    "app.py": "app.py.template",
    "test_app.py": "test_app.py.template",
    "conveyor_pipeline.py": "conveyor_pipeline.py.template",
}


def _resource(*parts: str) -> str:
    return resources.files("conveyor.examples").joinpath(*parts).read_text()


def _template(name: str) -> str:
    return _resource("hello_service", name)


def _git(repository: Path, *args: str) -> None:
    identity = ["-c", "user.name=Conveyor", "-c", "user.email=conveyor@localhost"]
    subprocess.run(["git", *identity, *args], cwd=repository, check=True, capture_output=True)


def create_sample_repository(repository: Path, *, server_url: str) -> None:
    """A git repository with the sample service, its pipeline and a post-commit hook."""
    repository.mkdir(parents=True, exist_ok=True)
    _git(repository, "init", "-q", "-b", "main")
    for target, template in FILES.items():
        (repository / target).write_text(_template(template))
    hook = repository / ".git" / "hooks" / "post-commit"
    hook.write_text(_template("post-commit.template").replace("@SERVER@", server_url))
    hook.chmod(0o755)
    _git(repository, "add", "-A")
    _git(repository, "commit", "-q", "-m", "hello-service: first version")


def seed_examples(store: Store, clock: Clock, *, data_dir: Path, server_url: str) -> None:
    with store.transaction() as tx:
        if tx.get_value(SEEDED):
            return
    repository = (data_dir / "examples" / PIPELINE).resolve()
    if not repository.exists():
        create_sample_repository(repository, server_url=server_url)
    now = clock.now()
    document = json.loads(_resource("hello.json"))
    app = app_from_json(document, base=None, version=now)
    with store.transaction() as tx:
        if tx.get_app(app.id) is None:
            deploy(tx, {app.id: app}, now=now)
        if tx.get_pipeline(PIPELINE) is None:
            pipeline = PipelineDefinition(
                name=PIPELINE,
                repository=str(repository),
                branch="main",
                poll_seconds=30,
                created_at=now,
            )
            tx.put_pipeline(pipeline)
            # registering builds nothing; the example's first build is asked for here
            first = Trigger(kind=TriggerKind.MANUAL, by="conveyor up")
            request_build(tx, pipeline, trigger=first, now=now)
        tx.put_value(SEEDED, True)
