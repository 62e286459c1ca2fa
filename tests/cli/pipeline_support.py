"""What the pipeline and build command tests share: pipeline files, a real git repository
holding one, and the `conveyor` command run in process."""

from __future__ import annotations

import textwrap
from pathlib import Path

from typer.testing import CliRunner, Result

from conveyor.cli.main import app
from conveyor.client import ConveyorClient, JsonObject
from tests.support.gitrepos import Repo
from tests.support.servers import ServerProcess, wait_for

GREETING = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, in_parallel, shell

    def hello(args, ctx):
        return shell(ctx, "echo hello from the first step")

    def unit(args, ctx):
        return shell(ctx, "echo unit tests pass")

    def lint(args, ctx):
        return shell(ctx, "echo lint is clean")

    pipeline = Pipeline(name="greeting", steps=[hello, in_parallel(unit, lint)])
    """
)

FAILING = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, shell

    def hello(args, ctx):
        return shell(ctx, "echo hello")

    def broken(args, ctx):
        return shell(ctx, "echo about to fail; exit 3")

    def never(args, ctx):
        return shell(ctx, "echo never")

    pipeline = Pipeline(name="failing", steps=[hello, broken, never])
    """
)

FLAKY = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, shell

    def prepare(args, ctx):
        return shell(ctx, "echo prepared")

    def flaky(args, ctx):
        return shell(ctx, "test -e ../tried && echo passed || (touch ../tried; exit 1)")

    pipeline = Pipeline(name="flaky", steps=[prepare, flaky])
    """
)

GATED = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, manual_trigger, shell

    def hello(args, ctx):
        return shell(ctx, "echo hello")

    def ship(args, ctx):
        return shell(ctx, f"echo shipping {args['version']}")

    pipeline = Pipeline(
        name="gated",
        steps=[
            hello,
            manual_trigger("Ship?", parameters={"version": {"type": "string", "default": "1.0"}}),
            ship,
        ],
    )
    """
)

SLOW = textwrap.dedent(
    """
    from conveyor.pipelines import Pipeline, shell

    def ticks(args, ctx):
        return shell(ctx, "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.25; done")

    def after(args, ctx):
        return shell(ctx, "sleep 30; echo after")

    pipeline = Pipeline(name="slow", steps=[ticks, after])
    """
)


def conveyor(server: ServerProcess, *args: str) -> Result:
    """Run `conveyor --server URL ARGS...` in process, in a wide terminal."""
    runner = CliRunner()
    return runner.invoke(app, ["--server", server.url, *args], env={"COLUMNS": "250"})


def repository(tmp_path: Path, pipeline_file: str) -> Repo:
    repo = Repo(tmp_path / "svc")
    repo.commit({"conveyor_pipeline.py": pipeline_file})
    return repo


def add_pipeline(server: ServerProcess, name: str, repo: Repo) -> None:
    """Register `name` without polling, so only the test's triggers build."""
    added = conveyor(server, "pipelines", "add", name, str(repo.path), "--no-poll")
    assert added.exit_code == 0, added.output


def build_of(server: ServerProcess, name: str, number: int) -> JsonObject:
    with ConveyorClient(server.url) as client:
        return client.get_build(name, number)


def wait_for_status(
    server: ServerProcess, name: str, number: int, *statuses: str, timeout: float = 60
) -> JsonObject:
    def reached() -> JsonObject | None:
        build = build_of(server, name, number)
        return build if build["status"] in statuses else None

    found: JsonObject = wait_for(reached, timeout=timeout, message=f"{name} #{number} {statuses}")
    return found


def wait_for_step_status(
    server: ServerProcess, name: str, number: int, step: int, status: str
) -> None:
    def reached() -> bool:
        steps = build_of(server, name, number)["steps"]
        return len(steps) >= step and steps[step - 1]["status"] == status

    wait_for(reached, timeout=60, message=f"step {step} of {name} #{number} {status}")
