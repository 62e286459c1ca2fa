"""Time for 100 instances of a small HTTP app to become healthy through Conveyor, against starting
the same 100 processes by hand and polling them, in the same run.

Conveyor: one `POST /v2/apps` with `instances: 100` of `exec python3 -m http.server $PORT0` (cpus
1 — Marathon's default, the CPU weight of a plain process such as the baseline's; mem 64; an
HTTP health check every second, grace period 30 s), then `GET /v2/apps?id=...` every 0.1 s until
`tasksHealthy` is 100. That is the listing, which carries the counts: `GET /v2/apps/{id}` would
render all 100 tasks ten times a second, work of the observer that the baseline does not have.
The server's CPU time over that span is printed too. `--cpus 0.01` shows what a tiny CPU weight
costs: each instance then gets 1/100 of the weight of the server's own process while they
compete for the cores.

Baseline: 100 `subprocess.Popen`s of the same command (same PATH, free ports), each polled with
an HTTP GET every second, as the health check does (probe, then sleep the interval), until all
answer 200; and the same polled every 0.1 s, the best a poller could do. Rounds alternate which
goes first; the app is deleted and the processes killed after each.

    .venv/bin/python bench/healthy_100.py [--quick] [--rounds N] [--cpus C]

Target: Conveyor within 1.25× of the baseline polled every second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack

import httpx
import psutil

from conveyor.engines.supervisors import DEFAULT_PATH
from figures import verdict_line
from live_server import delete_app, live_server_process

INSTANCES = 100
COMMAND = "exec python3 -m http.server $PORT0 --bind 127.0.0.1"
APP_ID = "/bench/healthy"
PORT_RANGE = (33000, 33999)
CHECK_INTERVAL = 1.0
CHECK_TIMEOUT = 20.0
HEALTHY_TIMEOUT = 120.0
TARGET_RATIO = 1.25


def reserve_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all held at once while choosing, then released)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def spawn(port: int) -> subprocess.Popen[bytes]:
    env = {"PATH": DEFAULT_PATH, "HOME": os.path.expanduser("~"), "PORT0": str(port)}
    return subprocess.Popen(
        ["sh", "-c", COMMAND],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def poll_until_ok(client: httpx.AsyncClient, port: int, interval: float) -> None:
    while True:
        try:
            response = await client.get(f"http://127.0.0.1:{port}/")
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(interval)


async def bare_healthy(interval: float) -> float:
    """Seconds from the first Popen until all of them answer 200, polled every `interval`."""
    processes: list[subprocess.Popen[bytes]] = []
    ports = reserve_ports(INSTANCES)
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
            began = time.monotonic()
            polls = []
            for port in ports:
                processes.append(spawn(port))
                polls.append(asyncio.create_task(poll_until_ok(client, port, interval)))
            await asyncio.wait_for(asyncio.gather(*polls), HEALTHY_TIMEOUT)
            return time.monotonic() - began
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def conveyor_healthy(server: psutil.Process, client: httpx.Client, cpus: float) -> float:
    """Seconds from POST /v2/apps until the app reports all instances healthy."""
    document = {
        "id": APP_ID,
        "cmd": COMMAND,
        "instances": INSTANCES,
        "cpus": cpus,
        "mem": 64,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/",
                "portIndex": 0,
                "intervalSeconds": int(CHECK_INTERVAL),
                "gracePeriodSeconds": 30,
                "timeoutSeconds": int(CHECK_TIMEOUT),
            }
        ],
    }
    cpu_before = server.cpu_times()
    began = time.monotonic()
    client.post("/v2/apps", json=document).raise_for_status()
    try:
        while time.monotonic() - began < HEALTHY_TIMEOUT:
            listed = client.get("/v2/apps", params={"id": APP_ID}).json()["apps"]
            if listed and listed[0]["tasksHealthy"] >= INSTANCES:
                took = time.monotonic() - began
                cpu = server.cpu_times()
                used = cpu.user + cpu.system - cpu_before.user - cpu_before.system
                print(f"  (server CPU time meanwhile: {used:.2f} s)")
                return took
            time.sleep(0.1)
        raise TimeoutError(f"{APP_ID} not healthy within {HEALTHY_TIMEOUT}s")
    finally:
        delete_app(client, APP_ID)


def measure_round(
    server: psutil.Process, client: httpx.Client, cpus: float, *, baseline_first: bool
) -> dict[str, float]:
    measurements: dict[str, Callable[[], float]] = {
        "baseline, polled every 1 s": lambda: asyncio.run(bare_healthy(CHECK_INTERVAL)),
        "baseline, polled every 0.1 s": lambda: asyncio.run(bare_healthy(0.1)),
        "conveyor": lambda: conveyor_healthy(server, client, cpus),
    }
    order = list(measurements) if baseline_first else list(reversed(measurements))
    print(f"round: {', then '.join(order)}")
    results = {}
    for name in order:
        results[name] = measurements[name]()
        print(f"  {name:<30} {results[name]:6.2f} s")
    return results


def report(rounds: list[dict[str, float]]) -> None:
    medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"median of {len(rounds)} round(s), {INSTANCES} instances:")
    for name, seconds in medians.items():
        print(f"  {name:<30} {seconds:6.2f} s")
    slow, fast = medians["baseline, polled every 1 s"], medians["baseline, polled every 0.1 s"]
    print(f"ratio conveyor / baseline polled every 1 s:   {medians['conveyor'] / slow:.2f}x")
    print(f"ratio conveyor / baseline polled every 0.1 s: {medians['conveyor'] / fast:.2f}x")
    target = f"within {TARGET_RATIO:g}x of the baseline polled every 1 s"
    print(verdict_line(target, met=medians["conveyor"] <= TARGET_RATIO * slow))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    parser.add_argument("--rounds", type=int, help="rounds, alternating which goes first")
    parser.add_argument("--cpus", type=float, default=1.0, help="the app's cpus (default 1)")
    arguments = parser.parse_args()
    count = arguments.rounds or (1 if arguments.quick else 3)
    print(f"{INSTANCES} instances, cpus {arguments.cpus:g} each")
    with live_server_process(port_range=PORT_RANGE) as (server, client):
        rounds = [
            measure_round(server, client, arguments.cpus, baseline_first=index % 2 == 0)
            for index in range(count)
        ]
    report(rounds)


if __name__ == "__main__":
    main()
