"""Per-step overhead of the pipeline executor against calling the step functions directly.

A pipeline of 100 no-op steps (each returns `{"status": "success"}`) is run by `run_build` with
the worker's real reporter, the spool (`SpoolReporter` writing `reports.jsonl` into a temporary
directory; no server, no shipping), and, as the baseline in the same run, the same 100 functions
are called one after the other. Rounds alternate which goes first; the medians are compared.
Each executor round uses a fresh build directory (a spool is written once).

    .venv/bin/python bench/step_overhead.py [--rounds N] [--steps N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conveyor.pipelines import Context, Pipeline, run_build
from conveyor.pipelines.reporters.spool import SpoolReporter

TARGET_MS = 10.0

StepFunction = Callable[[Mapping[str, Any], Context], dict[str, str]]


def make_steps(count: int) -> list[StepFunction]:
    def make(index: int) -> StepFunction:
        def step(args: Mapping[str, Any], ctx: Context) -> dict[str, str]:
            return {"status": "success"}

        step.__name__ = f"noop_{index}"
        return step

    return [make(i) for i in range(1, count + 1)]


def time_direct(steps: list[StepFunction], context: Context) -> float:
    began = time.perf_counter()
    args: Mapping[str, Any] = {}
    for step in steps:
        step(args, context)
    return time.perf_counter() - began


def time_executor(pipeline: Pipeline, directory: Path) -> tuple[float, int]:
    """Seconds for `run_build` of the pipeline, spooling; and the number of reports written."""
    directory.mkdir()
    context = Context.for_build("bench", 1, directory / "workspace")
    began = time.perf_counter()
    spool = SpoolReporter(directory / "reports.jsonl")
    status = run_build(pipeline, context=context, reporter=spool)
    spool.close()
    elapsed = time.perf_counter() - began
    assert status.value == "success", status
    return elapsed, spool.last_seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    options = parser.parse_args()
    steps = make_steps(options.steps)
    pipeline = Pipeline("bench", steps)
    executor: list[float] = []
    direct: list[float] = []
    reports = 0
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as temporary:
        root = Path(temporary)
        context = Context.for_build("bench", 1, root)
        for round_number in range(options.rounds):
            if round_number % 2:
                direct.append(time_direct(steps, context))
            elapsed, reports = time_executor(pipeline, root / f"build-{round_number}")
            executor.append(elapsed)
            if not round_number % 2:
                direct.append(time_direct(steps, context))
    executor_ms = statistics.median(executor) * 1e3
    direct_ms = statistics.median(direct) * 1e3
    per_step_ms = (executor_ms - direct_ms) / options.steps
    print(f"{options.steps} no-op steps, {options.rounds} rounds, medians:")
    print(f"  executor + spool ({reports} reports)   {executor_ms:9.3f} ms")
    print(f"  direct calls                         {direct_ms:9.3f} ms")
    print(f"  overhead per step                    {per_step_ms:9.3f} ms")
    met = per_step_ms <= TARGET_MS
    print(f"target: ≤ {TARGET_MS:g} ms a step — {'MET' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
