"""Reading Server-Sent Events and judging an ended deployment by its app."""

from __future__ import annotations

from conveyor.client.sse import SseMessage, SseParser
from conveyor.client.watching import app_problem


def parse(lines: list[str]) -> list[SseMessage]:
    parser = SseParser()
    return [m for m in map(parser.feed, lines) if m is not None]


def test_sse_messages_end_at_blank_lines_and_comments_are_skipped() -> None:
    lines = [": idle", "", "event: log", "id: 6", "data: hello", "", "data: a", "data: b", ""]
    assert parse(lines) == [SseMessage("log", "hello", "6"), SseMessage("message", "a\nb")]


def test_an_app_that_matches_its_instances_is_settled() -> None:
    app = {"id": "/a", "instances": 2, "tasksRunning": 2, "deployments": []}
    assert app_problem(app, "d1") is None


def test_an_app_short_of_instances_or_held_by_another_deployment_is_not() -> None:
    short = {"id": "/a", "instances": 2, "tasksRunning": 1, "deployments": []}
    assert app_problem(short, "d1") == "/a has 1 of 2 instances running"
    held = {"id": "/a", "instances": 2, "tasksRunning": 2, "deployments": [{"id": "d2"}]}
    assert "deployment d2" in (app_problem(held, "d1") or "")
    unhealthy = {"id": "/a", "instances": 1, "tasksRunning": 1, "tasksHealthy": 0}
    unhealthy["healthChecks"] = [{"protocol": "HTTP"}]
    assert app_problem(unhealthy, "d1") == "/a has 0 of 1 instances healthy"
