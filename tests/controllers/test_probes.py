"""One health probe of each protocol against real targets on 127.0.0.1: an HTTP server in a
thread answering by path, the same over TLS with a self-signed certificate made by `openssl`, a
socket server that answers with an informational status first or not at all, a listening and a
closed TCP port, and shell commands."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from conveyor.controllers.probes import ProbeResult, run_probe
from conveyor.domain.apps import HealthCheck, HealthProtocol
from conveyor.domain.environment import port_environment
from conveyor.domain.instances import Instance, InstanceState

BODY = b"x" * 1_000_000  # a large body: only the status is read


class Answer(http.server.BaseHTTPRequestHandler):
    """`/status/N` answers N; `/slow` answers after 3 s."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            threading.Event().wait(3)
            self.send_response(200)
        else:
            self.send_response(int(self.path.rsplit("/", 1)[-1]))
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(BODY)  # the probe hangs up after the status

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(tls: ssl.SSLContext | None) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    yield from _serve(None)


@pytest.fixture(scope="module")
def https_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield from _serve(context)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _instance(port: int) -> Instance:
    now = datetime.now(UTC)
    return Instance(
        id="probed.1",
        app_id="/probed",
        version=now,
        state=InstanceState.RUNNING,
        host="127.0.0.1",
        staged_at=now,
        ports=(port,),
        started_at=now,
    )


def _probe(check: HealthCheck, port: int, *, starting: bool = False) -> ProbeResult:
    instance = _instance(port)
    env = port_environment(instance.ports, (), instance.host)
    return asyncio.run(run_probe(check, instance, env=env, starting=starting))


@pytest.mark.parametrize("starting", [False, True])
def test_http_is_healthy_on_2xx_and_3xx_only(http_port: int, starting: bool) -> None:
    def healthy(status: int) -> bool | None:
        check = HealthCheck(protocol=HealthProtocol.HTTP, path=f"/status/{status}")
        return _probe(check, http_port, starting=starting)[0]

    assert [healthy(status) for status in (200, 204, 301, 399)] == [True] * 4
    assert [healthy(status) for status in (400, 404, 500, 503)] == [False] * 4
    check = HealthCheck(protocol=HealthProtocol.HTTP, path="/status/503")
    assert _probe(check, http_port)[1] == f"HTTP 503 from http://127.0.0.1:{http_port}/status/503"


def test_https_accepts_a_self_signed_certificate(https_port: int) -> None:
    ok = HealthCheck(protocol=HealthProtocol.HTTPS, path="/status/200")
    failing = HealthCheck(protocol=HealthProtocol.HTTPS, path="/status/500")
    assert _probe(ok, https_port) == (True, None)
    assert _probe(failing, https_port)[0] is False


def test_http_times_out(http_port: int) -> None:
    check = HealthCheck(protocol=HealthProtocol.HTTP, path="/slow", timeout_seconds=1)
    healthy, cause = _probe(check, http_port)
    assert healthy is False
    assert cause == f"no answer from http://127.0.0.1:{http_port}/slow within 1 s"


def test_http_to_a_closed_port_fails_with_the_cause() -> None:
    port = _closed_port()
    for starting in (False, True):
        healthy, cause = _probe(HealthCheck(protocol=HealthProtocol.HTTP), port, starting=starting)
        assert healthy is False
        assert cause


def test_tcp_is_healthy_while_the_port_accepts(http_port: int) -> None:
    assert _probe(HealthCheck(protocol=HealthProtocol.TCP), http_port) == (True, None)
    healthy, cause = _probe(HealthCheck(protocol=HealthProtocol.TCP), _closed_port())
    assert healthy is False
    assert cause is not None and "TCP connection" in cause


def test_a_command_is_healthy_when_it_exits_0_and_sees_the_ports(http_port: int) -> None:
    def probe(command: str, timeout: int = 5) -> ProbeResult:
        check = HealthCheck(
            protocol=HealthProtocol.COMMAND, command=command, timeout_seconds=timeout
        )
        return _probe(check, http_port)

    assert probe(f'test "$PORT0" = {http_port} && test "$HOST" = 127.0.0.1') == (True, None)
    assert probe("exit 3") == (False, "command exited with status 3")
    assert probe("sleep 30", timeout=1) == (False, "command timed out after 1 s")


def test_a_check_naming_a_port_the_instance_lacks_fails(http_port: int) -> None:
    check = HealthCheck(protocol=HealthProtocol.HTTP, port_index=3)
    assert _probe(check, http_port) == (
        False,
        "the health check names a port the instance does not have",
    )


def test_an_explicit_port_wins_over_the_port_index(http_port: int) -> None:
    check = HealthCheck(protocol=HealthProtocol.HTTP, path="/status/200", port=http_port)
    assert _probe(check, _closed_port()) == (True, None)


@contextlib.contextmanager
def _raw_server(answer: bytes) -> Iterator[int]:
    """Answers every connection with `answer`, then closes it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(4096)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_an_informational_status_is_no_verdict_when_ignored_and_a_failure_otherwise() -> None:
    answer = b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    with _raw_server(answer) as port:
        ignoring = HealthCheck(protocol=HealthProtocol.HTTP, ignore_http1xx=True)
        assert _probe(ignoring, port) == (None, None)
        counting = HealthCheck(protocol=HealthProtocol.HTTP)
        assert _probe(counting, port) == (False, f"HTTP 102 from http://127.0.0.1:{port}/")


def test_a_server_that_hangs_up_or_talks_nonsense_is_unhealthy() -> None:
    for answer in (b"", b"SSH-2.0-OpenSSH_9.2\r\n"):
        with _raw_server(answer) as port:
            healthy, cause = _probe(HealthCheck(protocol=HealthProtocol.HTTP), port)
            assert healthy is False
            assert cause is not None and cause.startswith(f"http://127.0.0.1:{port}/: ")
