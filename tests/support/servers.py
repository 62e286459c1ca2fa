"""A real Conveyor server in a subprocess on a free loopback port, for end-to-end tests.

The server is started exactly as a user starts it (`conveyor serve --listen ... --data-dir ...`),
can be SIGKILLed and started again on the same data dir, and is always stopped at the end.
`serving_in_thread` serves an ASGI app with uvicorn in this process instead (the API on a store,
without controllers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving_in_thread(app: Any) -> Iterator[str]:
    """Serve the ASGI `app` with uvicorn in a background thread on a free loopback port; yields
    its base URL, and stops the server on the way out."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def kill_leftover_tasks(data_dir: Path) -> None:
    """End the task process groups a test's server left behind: only pids the engine recorded,
    and only while the process is the one recorded (same start time)."""
    for pid_file in data_dir.glob("tasks/*/pid"):
        try:
            pid_text, start_text = pid_file.read_text().split()[:2]
            process = psutil.Process(int(pid_text))
            if abs(process.create_time() - float(start_text)) < 1.0:
                os.killpg(process.pid, signal.SIGKILL)
        except (ValueError, OSError, psutil.Error):
            continue


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        database_url: str | None = None,
        port_range: tuple[int, int] | None = None,
        extra_args: tuple[str, ...] = (),
        subcommand: str = "serve",
    ) -> None:
        self.subcommand = subcommand
        self.data_dir = data_dir
        self.port = port or free_port()
        self.database_url = database_url
        self.port_range = port_range
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-c",
            "from conveyor.entry import main; main()",
            self.subcommand,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
        ]
        if self.database_url:
            command += ["--database-url", self.database_url]
        if self.port_range:
            command += ["--port-range", f"{self.port_range[0]}-{self.port_range[1]}"]
        return command + list(self.extra_args)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "CONVEYOR_LOG_LEVEL": "INFO"},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer in {timeout}s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up (its tasks keep running)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1, message: str = ""):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy; return that, or fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}: {last!r}")
