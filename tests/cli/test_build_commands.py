"""End to end: `conveyor builds ...` against a real server, real git repositories and real
build workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.client import ConveyorClient, all_steps
from conveyor.client.pipelines import BuildWaitTimeout
from tests.cli.pipeline_support import (
    FAILING,
    FLAKY,
    GATED,
    GREETING,
    SLOW,
    add_pipeline,
    build_of,
    conveyor,
    repository,
    wait_for_status,
    wait_for_step_status,
)
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow


def test_a_followed_build_that_succeeds_exits_zero(server: ServerProcess, tmp_path: Path) -> None:
    add_pipeline(server, "greeting", repository(tmp_path, GREETING))

    result = conveyor(server, "builds", "trigger", "greeting", "-p", "flavour=mild", "--follow")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "triggered greeting #1"
    assert "greeting #1 runs at commit" in lines[1]
    assert any(line.startswith("2.1 unit  ✔ success") for line in lines)
    assert lines[-1].startswith("✔ build greeting #1 succeeded in ")
    build = build_of(server, "greeting", 1)
    assert build["status"] == "success"
    assert build["trigger"]["parameters"] == {"flavour": "mild"}


def test_a_followed_build_that_fails_exits_non_zero_naming_the_failed_step(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "failing", repository(tmp_path, FAILING))

    result = conveyor(server, "builds", "trigger", "failing", "--follow")

    assert result.exit_code == 1, result.output
    assert "2 broken  ✘ failure" in result.stdout
    assert "✘ build failing #1 failed after" in result.stderr
    assert "step 2 broken: exit code 3" in result.stderr
    assert "conveyor builds logs failing 1 2" in result.stderr


def test_show_renders_the_step_tree_and_list_the_builds(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "greeting", repository(tmp_path, GREETING))
    assert conveyor(server, "builds", "trigger", "greeting", "--follow").exit_code == 0

    shown = conveyor(server, "builds", "show", "greeting", "1")

    assert shown.exit_code == 0, shown.output
    tree = shown.stdout.split("greeting #1  ✔ success\n", 1)[1].splitlines()
    assert tree[0].startswith("├── 1 hello  ✔ success  ")
    assert tree[1].startswith("└── 2 in_parallel  ✔ success  ")
    assert tree[2].startswith("    ├── 2.1 unit  ✔ success  ")
    assert tree[3].startswith("    └── 2.2 lint  ✔ success  ")
    assert "manual by" in shown.stdout
    as_json = json.loads(conveyor(server, "builds", "show", "greeting", "1", "--json").stdout)
    assert [step["id"] for step in as_json["steps"][1]["children"]] == ["2.1", "2.2"]

    assert conveyor(server, "builds", "trigger", "greeting", "--follow").exit_code == 0
    listed = conveyor(server, "builds", "list", "greeting", "--limit", "1")
    assert listed.exit_code == 0, listed.output
    assert "✔ success" in listed.stdout
    assert "conveyor builds list greeting --before 2" in listed.stdout
    page = json.loads(conveyor(server, "builds", "list", "greeting", "--json").stdout)
    assert [build["number"] for build in page["builds"]] == [2, 1]
    assert page["nextBefore"] is None


def test_logs_print_each_steps_output_prefixed_with_its_id(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "greeting", repository(tmp_path, GREETING))
    assert conveyor(server, "builds", "trigger", "greeting", "--follow").exit_code == 0

    every_step = conveyor(server, "builds", "logs", "greeting", "1")
    assert every_step.exit_code == 0, every_step.output
    assert every_step.stdout.splitlines() == [
        "1   hello from the first step",
        "2.1 unit tests pass",
        "2.2 lint is clean",
    ]
    one_step = conveyor(server, "builds", "logs", "greeting", "1", "2.2")
    assert one_step.stdout == "lint is clean\n"
    unknown = conveyor(server, "builds", "logs", "greeting", "1", "7")
    assert unknown.exit_code == 1
    assert "error: build greeting #1 has no step 7" in unknown.stderr


def test_followed_logs_end_with_the_step(server: ServerProcess, tmp_path: Path) -> None:
    add_pipeline(server, "slow", repository(tmp_path, SLOW))
    assert conveyor(server, "builds", "trigger", "slow").exit_code == 0

    followed = conveyor(server, "builds", "logs", "slow", "1", "1", "--follow")

    assert followed.exit_code == 0, followed.output
    assert followed.stdout.splitlines() == [f"tick {i}" for i in range(1, 9)]
    assert build_of(server, "slow", 1)["steps"][1]["status"] == "running"


def test_followed_logs_of_every_step_end_when_the_build_does(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "failing", repository(tmp_path, FAILING))
    assert conveyor(server, "builds", "trigger", "failing").exit_code == 0

    followed = conveyor(server, "builds", "logs", "failing", "1", "--follow")

    assert followed.exit_code == 0, followed.output
    assert followed.stdout.splitlines() == ["1 hello", "2 about to fail"]
    assert build_of(server, "failing", 1)["steps"][2]["status"] == "skipped"


def test_a_manual_trigger_is_shown_and_released_and_bad_parameters_are_named(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "gated", repository(tmp_path, GATED))
    assert conveyor(server, "builds", "trigger", "gated").exit_code == 0
    wait_for_status(server, "gated", 1, "waiting")

    waiting = conveyor(server, "builds", "show", "gated", "1")
    assert "2 manual_trigger  ⏸ waiting" in waiting.stdout
    assert "? Ship?  version: string = 1.0" in waiting.stdout

    refused = conveyor(server, "builds", "release", "gated", "1", "2", "-p", "nope=1")
    assert refused.exit_code == 1
    assert "error: Object is not valid" in refused.stderr
    assert "  parameters.nope: not a parameter of this step" in refused.stderr

    released = conveyor(
        server, "builds", "release", "gated", "1", "2", "-p", "version=2.5", "--by", "ada"
    )
    assert released.exit_code == 0, released.output
    assert "released step 2 of gated #1 as ada: version=2.5" in released.stdout
    wait_for_status(server, "gated", 1, "success")
    shown = conveyor(server, "builds", "show", "gated", "1")
    assert "released by ada at " in shown.stdout
    assert "with version=2.5" in shown.stdout
    assert conveyor(server, "builds", "logs", "gated", "1", "3").stdout == "shipping 2.5\n"

    again = conveyor(server, "builds", "release", "gated", "1", "2")
    assert again.exit_code == 1
    assert "Step 2 of build gated #1 was already released by ada" in again.stderr


def test_killing_a_step_and_a_build(server: ServerProcess, tmp_path: Path) -> None:
    add_pipeline(server, "slow", repository(tmp_path, SLOW))
    assert conveyor(server, "builds", "trigger", "slow").exit_code == 0
    wait_for_step_status(server, "slow", 1, 1, "running")

    killed_step = conveyor(server, "builds", "kill", "slow", "1", "--step", "1")
    assert killed_step.exit_code == 0, killed_step.output
    assert "killing step 1 of slow #1" in killed_step.stdout
    ended = wait_for_status(server, "slow", 1, "success", "failure", "killed")
    assert ended["steps"][0]["status"] == "killed"

    assert conveyor(server, "builds", "trigger", "slow").exit_code == 0
    wait_for_step_status(server, "slow", 2, 1, "running")
    killed = conveyor(server, "builds", "kill", "slow", "2")
    assert killed.exit_code == 0, killed.output
    assert "killing slow #2" in killed.stdout
    wait_for_status(server, "slow", 2, "killed")
    shown = conveyor(server, "builds", "show", "slow", "2")
    assert "slow #2  ■ killed" in shown.stdout

    too_late = conveyor(server, "builds", "kill", "slow", "2")
    assert too_late.exit_code == 1
    assert "has already ended" in too_late.stderr


def test_retrigger_runs_again_from_a_step_reusing_the_ones_before(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "flaky", repository(tmp_path, FLAKY))
    assert conveyor(server, "builds", "trigger", "flaky", "--follow").exit_code == 1

    result = conveyor(server, "builds", "retrigger", "flaky", "1", "--step", "2", "--follow")

    assert result.exit_code == 0, result.output
    assert "retriggered flaky #1 from step 2 as #2" in result.stdout
    assert "✔ build flaky #2 succeeded" in result.stdout
    shown = conveyor(server, "builds", "show", "flaky", "2")
    assert "retriggered from #1 at step 2; the pipeline file is unchanged" in shown.stdout
    assert "1 prepare  ✔ success" in shown.stdout
    assert "(reused)" in shown.stdout
    assert conveyor(server, "builds", "logs", "flaky", "2", "2").stdout == "passed\n"


def test_waiting_for_a_build_that_does_not_end_in_time_raises_a_timeout(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "gated", repository(tmp_path, GATED))
    assert conveyor(server, "builds", "trigger", "gated").exit_code == 0
    wait_for_status(server, "gated", 1, "waiting")

    with ConveyorClient(server.url) as client, pytest.raises(BuildWaitTimeout) as raised:
        client.wait_for_build("gated", 1, timeout=0.2, poll_interval=0.05)

    assert str(raised.value) == "build gated #1 has not ended after 0.2 s (it is waiting)"
    assert raised.value.build["status"] == "waiting"
    assert isinstance(raised.value, TimeoutError)


JUNCTION = """
from conveyor.pipelines import Pipeline, junction, shell

def probe(args, ctx):
    return shell(ctx, "echo no cache here; exit 1")

def use_cache(args, ctx):
    return shell(ctx, "echo using the cache")

def build_fresh(args, ctx):
    return shell(ctx, "echo building from scratch")

def tests(args, ctx):
    return shell(ctx, "echo 2 tests failed; exit 2")

def publish(args, ctx):
    return shell(ctx, "echo publishing")

pipeline = Pipeline(name="cached", steps=[junction(probe, use_cache, build_fresh), tests, publish])
"""


def test_a_failure_a_junction_handled_is_not_in_the_summary_and_steps_not_run_are_skipped(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "cached", repository(tmp_path, JUNCTION))

    result = conveyor(server, "builds", "trigger", "cached", "--follow")

    assert result.exit_code == 1, result.output
    assert "step 2 tests: exit code 2" in result.stderr
    assert "probe" not in result.stderr, "the junction handled the failed condition"
    build = build_of(server, "cached", 1)
    assert build["failedSteps"] == ["2"]
    statuses = {s["id"]: s["status"] for s in all_steps(build)}
    assert statuses == {
        "1": "success",
        "1.1": "failure",
        "1.2": "skipped",
        "1.3": "success",
        "2": "failure",
        "3": "skipped",
    }
    shown = conveyor(server, "builds", "show", "cached", "1").stdout
    assert "1.2 use_cache  – skipped  not taken: condition 1.1 failed" in shown
    assert "3 publish  – skipped" in shown


def test_a_release_with_wait_waits_for_the_step_to_ask(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "gated", repository(tmp_path, GATED))
    assert conveyor(server, "builds", "trigger", "gated").exit_code == 0

    released = conveyor(server, "builds", "release", "gated", "1", "2", "--wait", "--by", "ada")

    assert released.exit_code == 0, released.output
    assert "released step 2 of gated #1 as ada" in released.stdout
    wait_for_status(server, "gated", 1, "success")


def test_a_release_with_wait_of_a_step_that_will_not_ask_fails(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "greeting", repository(tmp_path, GREETING))
    assert conveyor(server, "builds", "trigger", "greeting").exit_code == 0

    refused = conveyor(server, "builds", "release", "greeting", "1", "1", "--wait")

    assert refused.exit_code == 1
    assert "step 1 of greeting #1 will not wait for a release" in refused.stderr


def test_following_a_build_already_under_way_ends_with_its_outcome(
    server: ServerProcess, tmp_path: Path
) -> None:
    add_pipeline(server, "failing", repository(tmp_path / "failing", FAILING))
    add_pipeline(server, "greeting", repository(tmp_path / "greeting", GREETING))
    assert conveyor(server, "builds", "trigger", "failing").exit_code == 0
    assert conveyor(server, "builds", "trigger", "greeting").exit_code == 0

    failed = conveyor(server, "builds", "follow", "failing", "1")
    succeeded = conveyor(server, "builds", "follow", "greeting", "1")

    assert failed.exit_code == 1, failed.output
    assert "✘ build failing #1 failed after" in failed.stderr
    assert succeeded.exit_code == 0, succeeded.output
    assert succeeded.stdout.splitlines()[-1].startswith("✔ build greeting #1 succeeded in ")
