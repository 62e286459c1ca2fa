"""`shell`: run a bash script as (part of) a step.

```python
def unit_tests(args, ctx):
    return shell(ctx, "pytest -q", env={"CI": "true"})
```

The script runs as `bash -e -c SCRIPT` in the step's working directory (the workspace, or what
`in_cwd` set, or `cwd`), in a session and process group of its own, stdin from /dev/null. Its
stdout and stderr (merged, so their order is kept) are reported line by line as they come, each
line with the time it was read; nothing is gathered in memory. Exit code 0 is success, any other
a failure ("exit code N"). When the step is cancelled (killed, timed out, lost an `either`) the
whole process group gets SIGTERM, then SIGKILL 3 s later, and the step ends killed. Processes the
script leaves behind in its group when it exits are ended the same way.

The script also sees CONVEYOR_PIPELINE, CONVEYOR_BUILD_NUMBER, CONVEYOR_STEP_ID,
CONVEYOR_WORKSPACE and, when known, CONVEYOR_COMMIT.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from conveyor.domain.builds import StepStatus, format_step_id
from conveyor.pipelines.context import Context, OutputWriter
from conveyor.pipelines.steps import StepResult

KILL_GRACE_SECONDS = 3.0
READ_CHARS = 64 * 1024
PROC = Path("/proc")


class ProcessGroup:
    """A process group, ended by id (never by name)."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid

    def is_alive(self) -> bool:
        """Has the group a member that is not a zombie? (Where nothing reaps orphans, such as
        a container whose init does not, the killed stay zombies: they count as gone.)"""
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _has_live_member(self.pgid) if PROC.is_dir() else True

    def terminate(self, grace: float = KILL_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL if any member is left after `grace` seconds."""
        if not self._signal(signal.SIGTERM):
            return
        if self._gone_within(grace):
            return
        self._signal(signal.SIGKILL)
        self._gone_within(1.0)

    def _signal(self, signum: signal.Signals) -> bool:
        try:
            os.killpg(self.pgid, signum)
        except ProcessLookupError:
            return False
        return True

    def _gone_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.is_alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True


def _has_live_member(pgid: int) -> bool:
    with os.scandir(PROC) as entries:
        return any(_is_live_member(entry.path, pgid) for entry in entries if entry.name.isdigit())


def _is_live_member(process_dir: str, pgid: int) -> bool:
    try:
        with open(f"{process_dir}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return False
    fields = stat[stat.rindex(b")") + 2 :].split()  # state ppid pgrp ...
    return int(fields[2]) == pgid and fields[0] != b"Z"


def step_environment(ctx: Context, env: Mapping[str, object] | None) -> dict[str, str]:
    environment = {
        **os.environ,
        "CONVEYOR_PIPELINE": ctx.pipeline,
        "CONVEYOR_BUILD_NUMBER": str(ctx.build_number),
        "CONVEYOR_STEP_ID": format_step_id(ctx.step_id),
        "CONVEYOR_WORKSPACE": str(ctx.workspace),
    }
    if ctx.commit:
        environment["CONVEYOR_COMMIT"] = ctx.commit
    environment.update({name: str(value) for name, value in (env or {}).items()})
    return environment


def shell(
    ctx: Context,
    script: str,
    env: Mapping[str, object] | None = None,
    cwd: str | Path | None = None,
) -> StepResult:
    directory = ctx.working_directory / cwd if cwd is not None else ctx.working_directory
    if not directory.is_dir():
        return StepResult(StepStatus.FAILURE, message=f"no such directory: {directory}")
    ctx.check_cancelled()
    process = subprocess.Popen(
        ["bash", "-e", "-c", script],
        cwd=directory,
        env=step_environment(ctx, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return _follow(process, ctx)


def _follow(process: subprocess.Popen[bytes], ctx: Context) -> StepResult:
    group = ProcessGroup(process.pid)
    enders: list[threading.Thread] = []

    def end_group() -> None:
        ender = threading.Thread(target=group.terminate, name=f"kill-{group.pgid}", daemon=True)
        enders.append(ender)
        ender.start()

    forget = ctx.cancelled.on_cancel(end_group)
    reaper = threading.Thread(target=_reap, args=(process, group), daemon=True)
    reaper.start()
    try:
        assert process.stdout is not None
        _pump(process.stdout, ctx.output)
    except BaseException:
        group.terminate()
        raise
    finally:
        reaper.join()
        forget()
        for ender in list(enders):
            ender.join()
    return _result(process.returncode, ctx)


def _reap(process: subprocess.Popen[bytes], group: ProcessGroup) -> None:
    """Wait for the script, then end what it left running in its group (which also closes the
    output pipe those processes hold)."""
    process.wait()
    if group.is_alive():
        group.terminate()


def _pump(stream: IO[bytes], output: OutputWriter) -> None:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
    with text:
        while line := text.readline(READ_CHARS):
            output.write_line(line.removesuffix("\n"))


def _result(returncode: int, ctx: Context) -> StepResult:
    if ctx.cancelled.is_set():
        return StepResult(StepStatus.KILLED, message=ctx.cancelled.reason)
    if returncode == 0:
        return StepResult(StepStatus.SUCCESS)
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return StepResult(StepStatus.FAILURE, message=f"killed by {name}")
    return StepResult(StepStatus.FAILURE, message=f"exit code {returncode}")
