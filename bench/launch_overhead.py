"""Launch overhead of the local engine against a bare `subprocess.Popen` of the same command.

For each sample the clock starts at the call (`engine.launch(...)` or `subprocess.Popen(...)`) and
stops when the task has run its first command: it writes a byte to a FIFO the benchmark is waiting
on. Both kinds of launch run in the same event loop, alternately, so they share the machine's
state. The time `launch` takes to return a handle is reported too.

Samples are a pause apart (`--pause`, default 0.1 s), in which the engine replaces the standby
supervisor a launch took: the usual case of a server that launches now and then. With
`--pause 0` launches come back to back and most find no standby ready (the cold path).

    .venv/bin/python bench/launch_overhead.py [--samples N] [--pause S] [--mem-mib M] [--ports P]
                                              [--no-cgroups]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from conveyor.engines.cgroups import CgroupHost
from conveyor.engines.local import LocalEngine
from conveyor.engines.protocol import LaunchSpec


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def time_to_first_byte(fifo: Path, start: Callable[[], Awaitable[object]]) -> float:
    """Seconds from calling `start` until something writes to `fifo`."""
    loop = asyncio.get_running_loop()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    arrived: asyncio.Future[float] = loop.create_future()

    def on_readable() -> None:
        if not arrived.done():
            arrived.set_result(time.perf_counter())

    loop.add_reader(reader, on_readable)
    try:
        began = time.perf_counter()
        await start()
        return await asyncio.wait_for(arrived, 10) - began
    finally:
        loop.remove_reader(reader)
        os.close(reader)


async def run(
    samples: int, pause: float, mem_mib: float, port_count: int, *, cgroups: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as scratch:
        fifo = Path(scratch) / "first-command"
        os.mkfifo(fifo)
        command = f"echo started > {fifo}"
        engine = LocalEngine(Path(scratch) / "data", cgroups=None if cgroups else CgroupHost())
        exits = engine.exits()
        bare: list[float] = []
        engine_first: list[float] = []
        engine_return: list[float] = []

        async def engine_launch(index: int) -> None:
            spec = LaunchSpec(
                f"bench-{index}", shell=command, mem_mib=mem_mib, port_count=port_count
            )
            began = time.perf_counter()
            await engine.launch(spec)
            engine_return.append(time.perf_counter() - began)

        try:
            for index in range(samples + samples // 10):
                popen: list[subprocess.Popen[bytes]] = []

                async def start_bare(started: list[subprocess.Popen[bytes]] = popen) -> None:
                    started.append(subprocess.Popen(["sh", "-c", command]))

                bare_time = await time_to_first_byte(fifo, start_bare)
                await asyncio.to_thread(popen[0].wait)
                engine_time = await time_to_first_byte(
                    fifo, functools.partial(engine_launch, index)
                )
                await anext(exits)
                await asyncio.sleep(pause)
                if index < samples // 10:  # warming up
                    engine_return.clear()
                else:
                    bare.append(bare_time)
                    engine_first.append(engine_time)
        finally:
            await engine.close()
        report(bare, engine_first, engine_return)


def report(bare: list[float], engine: list[float], returned: list[float]) -> None:
    def line(name: str, samples: list[float]) -> str:
        p50, p99 = percentile(samples, 0.5) * 1e3, percentile(samples, 0.99) * 1e3
        return f"{name:<34} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"

    print(f"{len(bare)} samples each")
    print(line("bare Popen → first command", bare))
    print(line("engine.launch → first command", engine))
    print(line("engine.launch → handle returned", returned))
    ratio = statistics.median(engine) / statistics.median(bare)
    print(f"ratio at p50 (engine / bare): {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between samples")
    parser.add_argument("--mem-mib", type=float, default=0.0, help="a memory limit per task")
    parser.add_argument("--ports", type=int, default=0, help="host ports per task")
    parser.add_argument("--no-cgroups", action="store_true", help="as on a host without cgroups")
    arguments = parser.parse_args()
    asyncio.run(
        run(
            arguments.samples,
            arguments.pause,
            arguments.mem_mib,
            arguments.ports,
            cgroups=not arguments.no_cgroups,
        )
    )


if __name__ == "__main__":
    main()
