"""Builds and pipelines in the terminal, rendered from documents shaped like the server's; and
the CLI's reading of its own arguments."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from conveyor.cli.build_following import ProgressPrinter, failed_steps
from conveyor.cli.build_rendering import build_summary, build_tree, format_age, format_duration
from conveyor.cli.main import app
from conveyor.cli.pipeline_rendering import pipeline_summary, pipelines_table
from conveyor.cli.pipelines import pipeline_definition, repository_location
from conveyor.client.pipelines import output_lines

NOW = datetime(2026, 5, 1, 10, 0, 30, tzinfo=UTC)


def rendered(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(renderable)
    return buffer.getvalue()


def step(step_id: str, name: str, status: str, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": step_id,
        "name": name,
        "status": status,
        "startedAt": "2026-05-01T10:00:00.000Z" if status != "pending" else None,
        "finishedAt": "2026-05-01T10:00:02.500Z" if status not in ("pending", "running") else None,
        "reused": False,
        "message": None,
        "details": [],
        "manual": None,
        "children": [],
    }
    return document | fields


MANUAL: dict[str, Any] = {
    "prompt": "Ship?",
    "parameters": {"version": {"type": "string", "default": "1.0"}, "canary": {"type": "boolean"}},
    "releasedBy": "ada",
    "releasedParameters": {"version": "2.5", "canary": True},
    "releasedAt": "2026-05-01T10:00:20.000Z",
}

BUILD: dict[str, Any] = {
    "pipeline": "shop",
    "number": 7,
    "status": "failure",
    "trigger": {"kind": "retrigger", "by": "ada", "commit": "c0ffee", "parameters": {}},
    "commit": "c0ffee1234567890",
    "createdAt": "2026-05-01T09:59:59.000Z",
    "startedAt": "2026-05-01T10:00:00.000Z",
    "finishedAt": "2026-05-01T10:00:25.000Z",
    "retriggeredFrom": {"number": 6, "step": "2.2"},
    "pipelineFileChanged": True,
    "message": None,
    "steps": [
        step("1", "checkout", "success", reused=True),
        step(
            "2",
            "in_parallel",
            "failure",
            message="2.2: exit code 3",
            children=[
                step("2.1", "unit", "success"),
                step("2.2", "lint", "failure", message="exit code 3"),
            ],
        ),
        step("3", "manual_trigger", "success", manual=MANUAL, details=[{"label": "released"}]),
        step("4", "deploy", "success", details=[{"label": "deployment", "raw": "d-1"}]),
        step("5", "smoke", "pending"),
    ],
}


def test_the_step_tree_shows_status_duration_reuse_messages_and_manual_releases() -> None:
    lines = rendered(build_tree(BUILD, NOW)).splitlines()
    assert lines == [
        "shop #7  ✘ failure",
        "├── 1 checkout  ✔ success  2.5s  (reused)",
        "├── 2 in_parallel  ✘ failure  2.5s  2.2: exit code 3",
        "│   ├── 2.1 unit  ✔ success  2.5s",
        "│   └── 2.2 lint  ✘ failure  2.5s  exit code 3",
        "├── 3 manual_trigger  ✔ success  2.5s",
        "│   ├── ? Ship?  version: string = 1.0, canary: boolean",
        "│   └── released by ada at 2026-05-01 10:00:20 with version=2.5 canary=true",
        "├── 4 deploy  ✔ success  2.5s",
        "│   └── deployment: d-1",
        "└── 5 smoke  · pending",
    ]


def test_the_summary_tells_the_retrigger_and_whether_the_pipeline_file_changed() -> None:
    text = rendered(build_summary(BUILD, NOW))
    assert "retrigger by ada from #6 at step 2.2" in text
    assert "retriggered from #6 at step 2.2; the pipeline file has changed since" in text
    assert "25s" in text


def test_a_build_that_has_not_started_says_so() -> None:
    queued = {"pipeline": "shop", "number": 8, "status": "queued", "steps": []}
    assert "no steps yet" in rendered(build_tree(queued, NOW))


def test_a_build_that_ended_before_any_step_says_so_and_shows_why() -> None:
    ended = {
        "pipeline": "shop",
        "number": 9,
        "status": "failure",
        "finishedAt": "2026-05-01T10:00:02.000Z",
        "message": "cannot check out the pipeline: there is no commit deadbeef in /srv/shop",
        "steps": [],
    }
    tree = rendered(build_tree(ended, NOW))
    assert "no steps yet" not in tree
    assert "no steps: the build ended before it ran any (see its message)" in tree
    assert "there is no commit deadbeef in /srv/shop" in rendered(build_summary(ended, NOW))


def test_the_failed_steps_are_those_that_failed_themselves() -> None:
    assert [s["id"] for s in failed_steps(BUILD)] == ["2.2"]


def test_durations_and_ages_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (0.42, 12.4, 125, 3720)] == [
        "0.4s",
        "12s",
        "2m05s",
        "1h02m",
    ]
    assert format_age("2026-05-01T10:00:00.000Z", NOW) == "30s ago"
    assert format_age("2026-04-29T10:00:00.000Z", NOW) == "2d ago"
    assert format_age(None, NOW) == "-"


def test_pipelines_show_their_settings_and_last_build() -> None:
    pipeline = {
        "name": "shop",
        "repository": "/src/shop",
        "branch": "main",
        "file": "conveyor_pipeline.py",
        "hasSecret": True,
        "pollSeconds": None,
        "maxConcurrentBuilds": 2,
        "buildTimeoutSeconds": 600,
        "retention": {"keepBuilds": None, "keepDays": 30},
        "lastBuild": BUILD,
    }
    row = rendered(pipelines_table([pipeline], NOW)).splitlines()[3]
    assert "#7 ✘ failure" in row
    assert "5s ago" in row
    summary = rendered(pipeline_summary(pipeline))
    assert "never (webhooks and triggers only)" in summary
    assert "every build, up to 30 days old" in summary
    assert "10m00s" in summary


def test_progress_is_printed_in_the_order_it_happened(capsys: pytest.CaptureFixture[str]) -> None:
    printer = ProgressPrinter()
    running = BUILD | {
        "status": "running",
        "steps": [step("1", "checkout", "running"), step("2", "in_parallel", "pending")],
    }
    printer(running)
    printer(running)
    printer(BUILD | {"steps": BUILD["steps"][:2]})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "shop #7 runs at commit c0ffee1234",
        "1 checkout",
        "1 checkout",
        "2.1 unit",
        "2.2 lint",
        "2 in_parallel",
    ]


def test_followed_output_ends_with_the_step_or_when_told_to_stop() -> None:
    stream = [
        "event: line",
        "id: 1",
        'data: {"at": "2026-05-01T10:00:00.000Z", "text": "hello"}',
        "",
        ": waiting",
        "event: end",
        "data: {}",
        "",
        "event: line",
        'data: {"text": "after the end"}',
        "",
    ]
    lines = list(output_lines(iter(stream), None, 1.0))
    assert [(line.seq, line.text) for line in lines] == [(1, "hello")]
    waiting = iter([": waiting"] * 3 + ["event: line", 'data: {"text": "late"}', ""])
    assert list(output_lines(waiting, lambda: True, 0.0)) == []


def test_local_repositories_become_absolute_and_urls_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert repository_location("svc") == str(tmp_path.resolve() / "svc")
    assert repository_location("../svc") == str(tmp_path.resolve().parent / "svc")
    for url in ("https://git.example.org/shop.git", "git@github.com:acme/shop.git", "file:///x"):
        assert repository_location(url) == url


def test_only_the_settings_given_are_sent() -> None:
    minimal = pipeline_definition("shop", "/src/shop", poll_seconds=None, no_poll=False)
    assert minimal == {"name": "shop", "repository": "/src/shop"}
    full = pipeline_definition(
        "shop", "/src/shop", poll_seconds=None, no_poll=True, keep_days=3, timeout=60, branch="dev"
    )
    assert full == {
        "name": "shop",
        "repository": "/src/shop",
        "branch": "dev",
        "buildTimeoutSeconds": 60,
        "pollSeconds": None,
        "retention": {"keepDays": 3},
    }


def test_contradictory_or_malformed_options_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    both = ["pipelines", "add", "x", str(tmp_path), "--no-poll", "--poll-seconds", "5"]
    result = runner.invoke(app, both)
    assert result.exit_code == 2
    assert "not both" in result.stderr
    malformed = runner.invoke(app, ["builds", "trigger", "shop", "-p", "version"])
    assert malformed.exit_code == 2
    assert "expected KEY=VALUE, got 'version'" in malformed.stderr
