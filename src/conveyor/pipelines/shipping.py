"""The shipper: sends the spool's reports to the server and takes the server's commands back.

Protocol: `POST {server}/api/pipelines/{pipeline}/builds/{number}/reports` with
`Authorization: Bearer {token}` and a JSON list of reports (the spool's lines, in order, from
the first one not acknowledged; up to about 1 MB a request, at least one report). The server
answers 200 with `{"applied": N, "commands": [...]}`: every report up to N is acknowledged (it
may apply fewer than were sent: the rest are sent again; it must ignore numbers it has already
applied), and the commands go to the build (`conveyor.domain.build_reports.commands_from_json`).

A request goes out as soon as there is something new; when there is nothing, an empty list is
posted every `poll_seconds` to ask for commands. When the server cannot be reached or answers
anything but 200, the shipper waits (0.1 s, doubling up to `max_backoff` seconds) and tries
again: the build goes on and the spool keeps everything until the server is back. Only one
batch is held in memory at a time.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from conveyor.domain.build_reports import Command, commands_from_json
from conveyor.pipelines.posting import JsonPoster, PostError
from conveyor.pipelines.reporters.spool import read_lines

CommandHandler = Callable[[Sequence[Command]], None]


class ShippingError(Exception):
    pass


class Shipper:
    def __init__(
        self,
        spool: Path,
        url: str,
        token: str,
        on_commands: CommandHandler,
        *,
        poll_seconds: float = 0.5,
        max_backoff: float = 5.0,
        batch_bytes: int = 1_000_000,
    ) -> None:
        self.spool = spool
        self.url = url
        self.on_commands = on_commands
        self.poll_seconds = poll_seconds
        self.max_backoff = max_backoff
        self.batch_bytes = batch_bytes
        self._http = JsonPoster(url, headers={"Authorization": f"Bearer {token}"})
        self._changed = threading.Condition()
        self._written = 0
        self._acked = 0
        self._offset = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipper", daemon=True)
        self._last_problem = ""

    @property
    def acknowledged(self) -> int:
        with self._changed:
            return self._acked

    def notify(self, seq: int) -> None:
        """Report `seq` is in the spool (the spool calls this as it appends)."""
        with self._changed:
            self._written = max(self._written, seq)
            self._changed.notify_all()

    def start(self) -> None:
        self._thread.start()

    def finish(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until every report is acknowledged, then stop. True
        when all were."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._acked < self._written and time.monotonic() < deadline:
                self._changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            delivered = self._acked >= self._written
        self.stop()
        return delivered

    def stop(self) -> None:
        self._stopped.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._http.close()

    def _run(self) -> None:
        backoff = 0.0
        with self.spool.open("rb") as spool:
            while not self._stopped.is_set():
                self._wait_for_work()
                if self._stopped.is_set():
                    return
                try:
                    self._ship_once(spool)
                except ShippingError as error:
                    self._complain(str(error))
                    backoff = min(self.max_backoff, max(0.1, backoff * 2))
                    self._stopped.wait(backoff)
                    continue
                backoff = 0.0
                if self._last_problem:
                    self._complain("")

    def _wait_for_work(self) -> None:
        deadline = time.monotonic() + self.poll_seconds
        with self._changed:
            while self._written <= self._acked and not self._stopped.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def _ship_once(self, spool: IO[bytes]) -> None:
        with self._changed:
            acked, offset, pending = self._acked, self._offset, self._written > self._acked
        lines = read_lines(spool, offset, self.batch_bytes) if pending else []
        answer = self._post(b"[" + b",".join(line.rstrip(b"\n") for line in lines) + b"]")
        applied = answer.get("applied")
        if isinstance(applied, int) and not isinstance(applied, bool):
            self._acknowledge(acked, offset, lines, applied, spool)
        commands = answer.get("commands")
        if isinstance(commands, list) and commands:
            self.on_commands(commands_from_json(commands))

    def _post(self, body: bytes) -> dict[str, object]:
        try:
            status, answer = self._http.post_json(body)
        except PostError as error:
            raise ShippingError(f"cannot reach {self.url}: {error}") from error
        if status != 200:
            raise ShippingError(f"{self.url} answered {status}: {answer}")
        if not isinstance(answer, dict):
            raise ShippingError(f"{self.url} answered {answer!r}, expected an object")
        return answer

    def _acknowledge(
        self, acked: int, offset: int, lines: list[bytes], applied: int, spool: IO[bytes]
    ) -> None:
        if acked <= applied <= acked + len(lines):
            offset += sum(len(line) for line in lines[: applied - acked])
        else:  # the server knows more (read the spool) or less (lost some): find the line
            applied = min(applied, self._written_now())
            offset = _offset_after(spool, applied)
        with self._changed:
            self._acked, self._offset = applied, offset
            self._changed.notify_all()

    def _written_now(self) -> int:
        with self._changed:
            return self._written

    def _complain(self, problem: str) -> None:
        """Say what goes wrong (once, not at every retry), and when it no longer does."""
        if problem != self._last_problem:
            said = problem or f"reaching {self.url} again"
            print(f"conveyor worker: shipping reports: {said}", file=sys.stderr, flush=True)
            self._last_problem = problem


def _offset_after(spool: IO[bytes], seq: int) -> int:
    """The offset of the line after report `seq` (0 for seq 0)."""
    spool.seek(0)
    offset = 0
    for _ in range(max(0, seq)):
        line = spool.readline()
        if not line.endswith(b"\n"):
            break
        offset += len(line)
    return offset
