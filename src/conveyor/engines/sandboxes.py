"""A task's sandbox: its directory under `<data_dir>/tasks/<task_id>/` (Mesos's word for it).

- `stdout`, `stderr`: what the task writes;
- `pid`: "PID START_TIME" of the task, for people and scripts (it leads its process group);
- `state.json`: what the engine needs to find the task again: task, supervisor, cgroups;
- `exit`: "STATUS TIME", written by the supervisor when the task ends: STATUS is the exit code
  or -N for death by signal N, TIME seconds since the epoch.

All but `exit` are there before the task is known: the directory is a standby supervisor's until
a launch renames it (see `supervisors.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.engines.protocol import LogStream

_TASK_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,254}")


@dataclass(frozen=True)
class ExitRecord:
    """How a task ended, as its supervisor recorded it."""

    exit_code: int
    ended_at: datetime


class Sandbox:
    def __init__(self, tasks_dir: Path, task_id: str) -> None:
        if not _TASK_ID.fullmatch(task_id):
            raise ValueError(f"task id {task_id!r} cannot name a directory")
        self.task_id = task_id
        self.path = tasks_dir / task_id

    def log(self, stream: LogStream) -> Path:
        return self.path / stream.value

    def take_over(self, directory: Path) -> None:
        """Make `directory` (a standby supervisor's, its logs made and open) this sandbox.
        An earlier sandbox of the same task id is removed."""
        if self.path.exists():
            shutil.rmtree(self.path)
        os.rename(directory, self.path)

    def exists(self) -> bool:
        return self.path.is_dir()

    def read_state(self) -> dict[str, Any]:
        """The recorded state, or an empty dict when there is none (or it cannot be read)."""
        try:
            state = json.loads((self.path / "state.json").read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def read_exit(self) -> ExitRecord | None:
        path = self.path / "exit"
        try:
            words = path.read_text().split()
            recorded = path.stat().st_mtime
        except OSError:
            return None
        if not words:
            return None
        with contextlib.suppress(ValueError, IndexError):
            recorded = float(words[1])  # `date +%N` is GNU; elsewhere the file's time stands
        try:
            code = int(words[0])
        except ValueError:
            return None
        return ExitRecord(code, datetime.fromtimestamp(recorded, UTC))


def write_state(directory: Path, state: dict[str, Any]) -> None:
    """Record `state` in `directory` (a sandbox, or a standby's directory that becomes one)."""
    temporary = directory / "state.json.tmp"
    temporary.write_text(json.dumps(state))
    os.replace(temporary, directory / "state.json")
