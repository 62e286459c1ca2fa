"""Hostile requests against a real `conveyor serve`: how fast each is refused, and whether the
server stays responsive meanwhile.

Each case of issue 9's list is sent in turn (cross-site and non-JSON posts, JSON 50,000 levels
deep to every endpoint that reads a body, a 2,000-segment id, 25 MB of env, a 60 MB label, NUL,
lone surrogates, `instances: 1e30`, ...). For each it prints the status, the time to the answer
and the time of a `GET /ping` sent right after. Baseline (same run): `GET /ping` on the idle
server. Target (issue 9): every answer a 4xx within 1 s, `/ping` within 1 s throughout.

    .venv/bin/python bench/hostile_input.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator

import httpx

from live_server import live_server

JSON = {"Content-Type": "application/json"}
APP = json.dumps({"id": "/hostile", "cmd": "sleep 600", "instances": 0})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def app_with(**fields: object) -> str:
    return json.dumps({"id": "/hostile", "cmd": "sleep 600", "instances": 0, **fields})


def cases() -> Iterator[tuple[str, str, str, str | bytes, dict[str, str]]]:
    """(name, method, path, body, headers)."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        yield f"POST as {content_type}", "POST", "/v2/apps", APP, {"Content-Type": content_type}
    yield "cross-site POST", "POST", "/v2/apps", APP, {**JSON, "Origin": "http://evil.example"}
    deep = nested(50_000)
    for method, path, body in (
        ("POST", "/v2/apps", deep),
        ("POST", "/v2/groups", '{"id": "/g", "apps": ' + deep + "}"),
        ("PUT", "/v2/apps/web", '{"container": ' + deep + "}"),
        ("POST", "/v2/tasks/delete", '{"ids": ' + deep + "}"),
        ("POST", "/hooks/git", '{"ref": ' + deep + "}"),
        ("POST", "/api/pipelines", '{"name": "p", "repository": ' + deep + "}"),
    ):
        yield f"50,000 deep to {method} {path}", method, path, body, JSON
    yield (
        "2,000-segment id",
        "POST",
        "/v2/apps",
        json.dumps({"id": "/a" * 2000, "cmd": "sleep 600"}),
        JSON,
    )
    yield (
        "5,000-character segment",
        "POST",
        "/v2/apps",
        json.dumps({"id": "/" + "a" * 5000, "cmd": "sleep 600"}),
        JSON,
    )
    big_env = {f"K{index}": "v" * 1000 for index in range(25_000)}
    yield "25 MB env", "POST", "/v2/apps", app_with(env=big_env), JSON
    yield "60 MB label", "POST", "/v2/apps", app_with(labels={"k": "v" * 60_000_000}), JSON
    yield "unicode id", "POST", "/v2/apps", app_with(id="/ünïcødé"), JSON
    yield "lone surrogate in cmd", "POST", "/v2/apps", '{"id": "/h", "cmd": "a\\ud800"}', JSON
    yield "NUL in env", "POST", "/v2/apps", app_with(env={"A": "\x00"}), JSON
    yield "= in an env name", "POST", "/v2/apps", app_with(env={"A=B": "c"}), JSON
    yield "duplicate keys", "POST", "/v2/apps", '{"id": "/h", "cmd": "a", "cmd": "b"}', JSON
    yield "instances 1e30", "POST", "/v2/apps", app_with(instances=1e30), JSON


def ping(client: httpx.Client) -> float:
    started = time.perf_counter()
    client.get("/ping").raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with live_server() as client:
        idle = statistics.median(ping(client) for _ in range(50))
        print(f"baseline: GET /ping on the idle server, p50 {idle * 1000:.2f} ms\n")
        print(f"{'case':<44} {'status':>6} {'answer ms':>10} {'then /ping ms':>14}")
        worst_answer = worst_ping = 0.0
        all_4xx = True
        for name, method, path, body, headers in cases():
            answers, pings, statuses = [], [], set()
            for _ in range(args.rounds):
                started = time.perf_counter()
                response = client.request(method, path, content=body, headers=headers)
                answers.append(time.perf_counter() - started)
                statuses.add(response.status_code)
                pings.append(ping(client))
            answer, after = max(answers), max(pings)
            worst_answer, worst_ping = max(worst_answer, answer), max(worst_ping, after)
            all_4xx &= all(400 <= status < 500 for status in statuses)
            shown = ",".join(str(status) for status in sorted(statuses))
            print(f"{name:<44} {shown:>6} {answer * 1000:>10.1f} {after * 1000:>14.2f}")
        stored = client.get("/v2/apps").json()["apps"]
        print(
            f"\nworst answer {worst_answer * 1000:.1f} ms, worst /ping after "
            f"{worst_ping * 1000:.2f} ms ({worst_ping / idle:.1f}× idle); apps stored: "
            f"{len(stored)}"
        )
        met = all_4xx and worst_answer < 1 and worst_ping < 1 and not stored
        verdict = "met" if met else "MISSED"
        print(f"target (every answer a 4xx within 1 s, /ping within 1 s): {verdict}")


if __name__ == "__main__":
    main()
