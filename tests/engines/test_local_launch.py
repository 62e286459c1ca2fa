"""Launching tasks on the local engine: environment, ports, commands, logs, exit statuses."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from conveyor.domain.errors import Conflict, NotFound, Unavailable
from conveyor.engines.processes import ProcessRef, read_stat
from conveyor.engines.protocol import ExitReason, LaunchSpec, LogStream
from tests.engines.scenarios import (
    eventually,
    free_port_range,
    next_exits,
    open_engine,
    output,
    run,
)


def _environment(path: Path) -> dict[str, str]:
    env: dict[str, str] = json.loads(path.read_text())
    return env


DUMP_ENV = (
    sys.executable,
    "-c",
    "import json, os; open('env.json', 'w').write(json.dumps(dict(os.environ)))",
)
"""Writes the task's environment to env.json in its sandbox (a shell would drop `weird.name`)."""


def test_task_gets_its_environment_and_ports(data_dir: Path) -> None:
    first, last = free_port_range(50)

    async def scenario() -> None:
        async with open_engine(data_dir, hostname="node-1", port_range=(first, last)) as engine:
            spec = LaunchSpec(
                "env-task",
                argv=DUMP_ENV,
                env={"GREETING": "hello 'world'\n$HOME", "weird.name": "x"},
                port_count=2,
                port_names=("http", None),
            )
            handle = await engine.launch(spec)
            [ended] = await next_exits(engine)
            assert ended.exit_code == 0, output(engine, "env-task", LogStream.STDERR)
            env = _environment(data_dir / "tasks" / "env-task" / "env.json")
            assert len(handle.ports) == 2
            assert all(first <= port <= last for port in handle.ports)
            port0, port1 = (str(port) for port in handle.ports)
            assert env["PORT0"] == env["PORT"] == env["PORT_HTTP"] == port0
            assert env["PORT1"] == port1
            assert env["PORTS"] == f"{port0},{port1}"
            assert env["HOST"] == handle.host == "node-1"
            assert env["GREETING"] == "hello 'world'\n$HOME"
            assert env["weird.name"] == "x"
            assert env["PATH"] and env["HOME"]

    run(scenario)


def test_spec_path_and_home_are_kept(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            env = {"PATH": f"/opt/nowhere:{os.environ['PATH']}", "HOME": "/tmp"}
            await engine.launch(LaunchSpec("own-path", argv=DUMP_ENV, env=env))
            await next_exits(engine)
            seen = _environment(data_dir / "tasks" / "own-path" / "env.json")
            assert seen["PATH"] == env["PATH"]
            assert seen["HOME"] == "/tmp"

    run(scenario)


def test_argv_is_executed_without_a_shell(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            argv = ("printf", "%s|", "a b", "$HOME", "*")
            await engine.launch(LaunchSpec("argv-task", argv=argv))
            [ended] = await next_exits(engine)
            assert ended.exit_code == 0
            assert output(engine, "argv-task") == "a b|$HOME|*|"

    run(scenario)


def test_task_is_the_process_of_the_handle_in_its_own_session(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            handle = await engine.launch(LaunchSpec("sleeper", argv=("sleep", "300")))
            cmdline = Path(f"/proc/{handle.pid}/cmdline")
            await eventually(lambda: cmdline.read_bytes() == b"sleep\x00300\x00")
            assert ProcessRef(handle.pid, handle.pid_start_time).is_running()
            assert os.getsid(handle.pid) == handle.pid
            assert os.getpgid(handle.pid) == handle.pid
            stat = read_stat(handle.pid)
            assert stat is not None and stat.ppid != os.getpid()  # a supervisor is the parent
            pid_file = data_dir / "tasks" / "sleeper" / "pid"
            assert int(pid_file.read_text().split()[0]) == handle.pid
            await engine.kill("sleeper", grace_seconds=5)
            await next_exits(engine)

    run(scenario)


def test_task_does_not_ignore_interrupts(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("ignored", shell="grep SigIgn /proc/self/status"))
            await next_exits(engine)
            ignored = int(output(engine, "ignored").split()[1], 16)
            sigint, sigquit = 1 << (2 - 1), 1 << (3 - 1)
            assert ignored & (sigint | sigquit) == 0

    run(scenario)


def test_exit_codes_and_deaths_by_signal_are_reported(data_dir: Path) -> None:
    commands = {
        "zero": LaunchSpec("zero", shell="true"),
        "three": LaunchSpec("three", shell="exit 3"),
        "killed": LaunchSpec("killed", shell="kill -KILL $$"),
        "terminated": LaunchSpec("terminated", shell="kill -TERM $$"),
        "high-code": LaunchSpec("high-code", argv=("sh", "-c", "exit 137")),
        "missing": LaunchSpec("missing", argv=("/no/such/program",)),
    }
    expected = {
        "zero": 0,
        "three": 3,
        "killed": -9,
        "terminated": -15,
        "high-code": 137,
        "missing": 127,
    }

    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            for spec in commands.values():
                await engine.launch(spec)
            ended = await next_exits(engine, len(commands))
            assert {e.task_id: e.exit_code for e in ended} == expected
            assert {e.reason for e in ended} == {ExitReason.EXITED}

    run(scenario)


def test_many_tasks_ending_together_are_each_reported_once(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            for index in range(8):
                await engine.launch(LaunchSpec(f"many-{index}", shell=f"sleep 0.2; exit {index}"))
            ended = await next_exits(engine, 8)
            assert sorted((e.task_id, e.exit_code) for e in ended) == [
                (f"many-{index}", index) for index in range(8)
            ]

    run(scenario)


def test_stdout_and_stderr_are_captured(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("talker", shell="echo out; echo err >&2; echo more"))
            await next_exits(engine)
            assert engine.read_log("talker", LogStream.STDOUT) == (b"out\nmore\n", 9)
            assert engine.read_log("talker", LogStream.STDERR) == (b"err\n", 4)
            assert engine.read_log("talker", LogStream.STDOUT, offset=4, limit=2) == (b"mo", 6)
            for beyond in (9, 1000, 2**62):  # past the end, past what a file system holds
                assert engine.read_log("talker", LogStream.STDOUT, offset=beyond) == (b"", beyond)
            path = engine.log_path("talker", LogStream.STDERR)
            assert path == str(data_dir / "tasks" / "talker" / "stderr")
            assert engine.log_path("nobody", LogStream.STDOUT) is None
            with pytest.raises(NotFound):
                engine.read_log("nobody", LogStream.STDOUT)

    run(scenario)


def test_two_live_tasks_never_share_a_port(data_dir: Path) -> None:
    first, last = free_port_range(3)

    async def scenario() -> None:
        async with open_engine(data_dir, port_range=(first, last)) as engine:
            handles = [
                await engine.launch(LaunchSpec(f"port-{i}", argv=("sleep", "300"), port_count=1))
                for i in range(3)
            ]
            assert sorted(h.ports[0] for h in handles) == list(range(first, last + 1))
            with pytest.raises(Unavailable):
                await engine.launch(LaunchSpec("one-too-many", shell="true", port_count=1))
            await engine.kill("port-1", grace_seconds=5)
            await next_exits(engine)
            again = await engine.launch(LaunchSpec("again", argv=("sleep", "300"), port_count=1))
            assert again.ports == handles[1].ports
            for task_id in ("port-0", "port-2", "again"):
                await engine.kill(task_id, grace_seconds=5)
            await next_exits(engine, 3)

    run(scenario)


def test_a_port_in_use_on_the_host_is_skipped(data_dir: Path) -> None:
    first, last = free_port_range(10)

    async def scenario() -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", first))
            listener.listen()
            async with open_engine(data_dir, port_range=(first, last)) as engine:
                handle = await engine.launch(LaunchSpec("skipper", shell="true", port_count=1))
                await next_exits(engine)
                assert handle.ports != (first,)
                with pytest.raises(Unavailable):
                    await engine.launch(
                        LaunchSpec("wants-it", shell="true", required_ports=(first,))
                    )

    run(scenario)


def test_required_ports_are_given_exactly_or_the_launch_fails(data_dir: Path) -> None:
    first, _ = free_port_range(10)

    async def scenario() -> None:
        async with open_engine(data_dir, port_range=(first, first + 9)) as engine:
            required = (first + 5, first + 2)
            spec = LaunchSpec("fixed", argv=("sleep", "300"), required_ports=required)
            handle = await engine.launch(spec)
            assert handle.ports == required
            with pytest.raises(Unavailable):
                await engine.launch(LaunchSpec("clash", shell="true", required_ports=(first + 2,)))
            await engine.kill("fixed", grace_seconds=5)
            await next_exits(engine)

    run(scenario)


def test_a_running_task_id_cannot_be_launched_twice(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("twice", argv=("sleep", "300")))
            with pytest.raises(Conflict):
                await engine.launch(LaunchSpec("twice", shell="true"))
            await engine.kill("twice", grace_seconds=5)
            await next_exits(engine)

    run(scenario)


def test_launches_it_cannot_serve_are_refused(data_dir: Path) -> None:
    async def scenario() -> None:
        async with open_engine(data_dir, hostname="here") as engine:
            assert [node.hostname for node in engine.nodes] == ["here"]
            with pytest.raises(Unavailable):
                await engine.launch(LaunchSpec("elsewhere", shell="true"), node="there")
            with pytest.raises(Unavailable):
                await engine.launch(LaunchSpec("boxed", shell="true", image="busybox"))
            with pytest.raises(ValueError, match="task id"):
                await engine.launch(LaunchSpec("../escape", shell="true"))
            with pytest.raises(ValueError, match="exactly one"):
                await engine.launch(LaunchSpec("both", shell="true", argv=("true",)))

    run(scenario)


def test_a_standby_whose_supervisor_or_task_side_ended_is_passed_over(data_dir: Path) -> None:
    def standby_states() -> list[dict[str, dict[str, float]]]:
        paths = (data_dir / "tasks").glob(".standby-*/state.json")
        return [json.loads(path.read_text()) for path in paths]

    async def scenario() -> None:
        async with open_engine(data_dir) as engine:
            await engine.launch(LaunchSpec("first", argv=("sleep", "300")))  # the pool fills
            await eventually(lambda: len(standby_states()) == 2)
            one, other = standby_states()
            ended = [ProcessRef(**one["task"]), ProcessRef(**other["supervisor"])]
            for process in ended:
                process.send_signal(signal.SIGKILL)
            await eventually(lambda: not any(process.is_running() for process in ended))

            handle = await engine.launch(LaunchSpec("second", argv=("sleep", "300")))

            assert ProcessRef(handle.pid, handle.pid_start_time).is_running()
            passed_over = {state["task"]["pid"] for state in (one, other)}
            assert handle.pid not in passed_over
            for task_id in ("first", "second"):
                await engine.kill(task_id, grace_seconds=0)
            await next_exits(engine, 2)

    run(scenario)
