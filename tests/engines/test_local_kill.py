"""Killing tasks on the local engine: SIGTERM, SIGKILL after the grace period, the whole tree."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

from conveyor.engines.processes import ProcessRef
from conveyor.engines.protocol import ExitReason, LaunchSpec
from tests.engines.scenarios import eventually, next_exits, open_engine, output, run

STUBBORN = "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.05; done"


def test_kill_sends_sigterm_to_a_task_that_honours_it(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("polite", argv=("sleep", "300")))
            began = time.monotonic()
            await engine.kill("polite", grace_seconds=10)
            [ended] = await next_exits(engine)
            assert ended.reason is ExitReason.KILLED
            assert ended.exit_code == -15
            assert time.monotonic() - began < 5

    run(scenario)


def test_kill_sends_sigkill_after_the_grace_period(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("stubborn", shell=STUBBORN))
            await eventually(lambda: "ready" in output(engine, "stubborn"))
            began = time.monotonic()
            await engine.kill("stubborn", grace_seconds=0.5)
            [ended] = await next_exits(engine)
            assert time.monotonic() - began >= 0.5
            assert ended.reason is ExitReason.KILLED
            assert ended.exit_code == -9
            assert "got-term" in output(engine, "stubborn")

    run(scenario)


def test_kill_ends_the_whole_tree(data_dir: Path) -> None:
    tree = (
        "sleep 300 & echo $! > child.pid; "
        "setsid sleep 301 & echo $! > escaped.pid; "  # its own session and group: cgroups only
        "wait"
    )

    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            handle = await engine.launch(LaunchSpec("tree", shell=tree))
            sandbox = data_dir / "tasks" / "tree"
            await eventually(lambda: all(_has_pid(sandbox / name) for name in _PID_FILES))
            child, escaped = (_process(sandbox / name) for name in _PID_FILES)
            assert child.is_running() and escaped.is_running()
            await engine.kill("tree", grace_seconds=5)
            [ended] = await next_exits(engine)
            assert ended.reason is ExitReason.KILLED
            await eventually(lambda: not child.is_running())
            if any(note.startswith("cgroup ") for note in handle.limits.notes):
                await eventually(lambda: not escaped.is_running())
            else:  # without cgroups a process that left the group is out of reach
                escaped.send_signal(9)

    run(scenario)


_PID_FILES = ("child.pid", "escaped.pid")


def _has_pid(path: Path) -> bool:
    return path.exists() and path.read_text().strip().isdigit()


def _process(pid_file: Path) -> ProcessRef:
    process = ProcessRef.of(int(pid_file.read_text()))
    assert process is not None
    return process


def test_what_a_task_leaves_behind_ends_with_it(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("parent", shell="sleep 300 & echo $! > child.pid"))
            [ended] = await next_exits(engine)
            assert ended.exit_code == 0
            child = _process(data_dir / "tasks" / "parent" / "child.pid")
            await eventually(lambda: not child.is_running())

    run(scenario)


def test_killing_an_unknown_or_ended_task_does_nothing(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.kill("nobody", grace_seconds=0)
            await engine.launch(LaunchSpec("done", shell="true"))
            [ended] = await next_exits(engine)
            await engine.kill("done", grace_seconds=0)
            assert ended.reason is ExitReason.EXITED

    run(scenario)


def test_a_task_whose_supervisor_was_killed_is_still_watched_and_killed(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            handle = await engine.launch(LaunchSpec("orphan", argv=("sleep", "300")))
            state = json.loads((data_dir / "tasks" / "orphan" / "state.json").read_text())
            supervisor = ProcessRef(**state["supervisor"])
            supervisor.send_signal(signal.SIGKILL)
            await eventually(lambda: not supervisor.is_running())
            await asyncio.sleep(0.1)  # the engine notices, and watches the task itself
            assert ProcessRef(handle.pid, handle.pid_start_time).is_running()
            await engine.kill("orphan", grace_seconds=5)
            [ended] = await next_exits(engine)
            assert (ended.reason, ended.exit_code) == (ExitReason.KILLED, None)

    run(scenario)
