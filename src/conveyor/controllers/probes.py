"""Running one health check against one instance: HTTP(S), TCP or a command. Each probe returns
(healthy, cause); it never raises for an unhealthy target."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
from collections.abc import Mapping

import h11

from conveyor.domain.apps import HealthCheck, HealthProtocol
from conveyor.domain.health import interpret_http_status
from conveyor.domain.instances import Instance

ProbeResult = tuple[bool | None, str | None]
"""(healthy, cause of failure); healthy None means "no verdict" (an ignored 1xx)."""


def probe_port(check: HealthCheck, instance: Instance) -> int | None:
    if check.port is not None:
        return check.port
    index = check.port_index or 0
    return instance.ports[index] if index < len(instance.ports) else None


async def probe_http(
    host: str, port: int, path: str, *, tls: bool, timeout: float, ignore_http1xx: bool
) -> ProbeResult:
    """GET `path` on a connection of its own and judge the first status line; the body is not
    read. TLS certificates are not verified, as Marathon's checks do not verify them."""
    url = f"{'https' if tls else 'http'}://{host}:{port}{path}"
    try:
        status = await asyncio.wait_for(_first_status(host, port, path, tls=tls), timeout)
    except TimeoutError:
        return False, f"no answer from {url} within {timeout:g} s"
    except (OSError, h11.RemoteProtocolError) as error:
        return False, f"{url}: {error or type(error).__name__}"
    healthy = interpret_http_status(status, ignore_http1xx=ignore_http1xx)
    return healthy, f"HTTP {status} from {url}" if healthy is False else None


async def _first_status(host: str, port: int, path: str, *, tls: bool) -> int:
    """The status code of the first response (informational ones included) to a GET."""
    reader, writer = await asyncio.open_connection(
        host, port, ssl=_UNVERIFIED if tls else None, server_hostname=host if tls else None
    )
    try:
        connection = h11.Connection(h11.CLIENT)
        headers = [("Host", f"{host}:{port}"), ("User-Agent", USER_AGENT), ("Connection", "close")]
        writer.write(connection.send(h11.Request(method="GET", target=path, headers=headers)))
        writer.write(connection.send(h11.EndOfMessage()) or b"")
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(_READ_SIZE))
            elif isinstance(event, h11.InformationalResponse | h11.Response):
                return event.status_code
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("the connection closed before a response")
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_UNVERIFIED = _unverified_context()
_READ_SIZE = 4096
USER_AGENT = "conveyor-health-check"


async def probe_tcp(host: str, port: int, *, timeout: float) -> ProbeResult:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        return False, f"TCP connection to {host}:{port} failed: {error or 'timeout'}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, None


async def probe_command(command: str, env: Mapping[str, str], *, timeout: float) -> ProbeResult:
    process = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        command,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return False, f"command timed out after {timeout:g} s"
    return code == 0, None if code == 0 else f"command exited with status {code}"


async def run_probe(
    check: HealthCheck,
    instance: Instance,
    *,
    env: Mapping[str, str],
    starting: bool = False,
) -> ProbeResult:
    """One probe. While an instance is `starting` (never passed yet), an HTTP(S) check first
    tries a bare TCP connect: a port nobody listens on yet is refused at almost no cost, which
    matters when many new instances are probed often while they start."""
    timeout = float(max(check.timeout_seconds, 1))
    if check.protocol is HealthProtocol.COMMAND:
        return await probe_command(check.command or "true", env, timeout=timeout)
    port = probe_port(check, instance)
    if port is None:
        return False, "the health check names a port the instance does not have"
    if check.protocol in (HealthProtocol.TCP, HealthProtocol.MESOS_TCP):
        return await probe_tcp(instance.host, port, timeout=timeout)
    if starting:
        listening, cause = await probe_tcp(instance.host, port, timeout=timeout)
        if not listening:
            return False, cause
    return await probe_http(
        instance.host,
        port,
        check.path or "/",
        tls=check.protocol in (HealthProtocol.HTTPS, HealthProtocol.MESOS_HTTPS),
        timeout=timeout,
        ignore_http1xx=check.ignore_http1xx,
    )
