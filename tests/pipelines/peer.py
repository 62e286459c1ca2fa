"""A test peer standing in for the Conveyor server's build-report endpoint.

A real HTTP server (stdlib, threads) on 127.0.0.1 that takes
`POST /api/pipelines/{name}/builds/{number}/reports`, reads the batch with the domain's own
reader, keeps each report by number (counting any number it got twice), and answers
`{"applied": N, "commands": [...]}` where N is the highest number up to which it has every
report. Commands queued with `send` go out once, in the next answer. It can be stopped and
started again on the same port; what it received is kept, as a server's store would keep it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

from conveyor.domain.build_reports import (
    BuildFinished,
    BuildStarted,
    Command,
    NumberedReport,
    Report,
    StepFinished,
    StepOutput,
    command_to_json,
    reports_from_json,
)
from conveyor.domain.builds import StepId
from tests.support.servers import free_port, wait_for

R = TypeVar("R", bound=Report)


class ReportPeer:
    def __init__(self, *, token: str = "secret", keep_output: bool = True) -> None:
        self.port = free_port()
        self.token = token
        self.keep_output = keep_output
        self.reports: dict[int, Report] = {}
        self.duplicates: list[int] = []
        self.output_line_counts: dict[StepId, int] = {}
        self.requests = 0
        self.refused = 0
        self.on_report: Callable[[NumberedReport], None] | None = None
        self._commands: list[Command] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReportPeer:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def send(self, command: Command) -> None:
        with self._lock:
            self._commands.append(command)

    def applied(self) -> int:
        with self._lock:
            return self._applied()

    def _applied(self) -> int:
        seq = 0
        while seq + 1 in self.reports:
            seq += 1
        return seq

    def ordered(self) -> list[Report]:
        with self._lock:
            return [self.reports[seq] for seq in sorted(self.reports)]

    def of_type(self, kind: type[R]) -> list[R]:
        return [r for r in self.ordered() if isinstance(r, kind)]

    def started(self) -> BuildStarted:
        return self.of_type(BuildStarted)[0]

    def finished_steps(self) -> dict[StepId, StepFinished]:
        return {r.step: r for r in self.of_type(StepFinished)}

    def finished(self) -> BuildFinished | None:
        found = self.of_type(BuildFinished)
        return found[-1] if found else None

    def wait_finished(self, timeout: float = 60.0) -> BuildFinished:
        wait_for(self.finished, timeout=timeout, message="BuildFinished")
        finished = self.finished()
        assert finished is not None
        return finished

    def output_text(self, step: StepId) -> list[str]:
        return [text for r in self.of_type(StepOutput) if r.step == step for _, text in r.lines]

    def receive(self, batch: list[NumberedReport]) -> dict[str, object]:
        for numbered in batch:
            if self.on_report is not None:
                self.on_report(numbered)
        with self._lock:
            self.requests += 1
            for numbered in batch:
                self._keep(numbered)
            commands, self._commands = self._commands, []
            return {"applied": self._applied(), "commands": [command_to_json(c) for c in commands]}

    def _keep(self, numbered: NumberedReport) -> None:
        if numbered.seq in self.reports:
            self.duplicates.append(numbered.seq)
        report = numbered.report
        if isinstance(report, StepOutput):
            count = self.output_line_counts.get(report.step, 0)
            self.output_line_counts[report.step] = count + len(report.lines)
            if not self.keep_output:
                report = StepOutput(report.step, report.first_seq, ())
        self.reports[numbered.seq] = report


def _handler_for(peer: ReportPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Authorization") != f"Bearer {peer.token}":
                peer.refused += 1
                self._answer(401, {"message": "bad token"})
                return
            if not self.path.endswith("/reports"):
                self._answer(404, {"message": "not found"})
                return
            self._answer(200, peer.receive(reports_from_json(json.loads(body))))

        def _answer(self, status: int, document: dict[str, object]) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
