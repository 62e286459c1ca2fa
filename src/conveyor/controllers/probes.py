"""Running one health check against one instance: HTTP(S), TCP or a command. Each probe returns
(healthy, cause); it never raises for an unhealthy target."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping

import httpx

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
    client: httpx.AsyncClient, url: str, *, timeout: float, ignore_http1xx: bool
) -> ProbeResult:
    """GET `url`; only the status counts, so the body is not read."""
    try:
        async with client.stream("GET", url, timeout=timeout) as response:
            status = response.status_code
    except httpx.HTTPError as error:
        return False, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    healthy = interpret_http_status(status, ignore_http1xx=ignore_http1xx)
    return healthy, None if healthy else f"HTTP {status} from {url}"


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


def port_environment(instance: Instance) -> dict[str, str]:
    env = {f"PORT{index}": str(port) for index, port in enumerate(instance.ports)}
    if instance.ports:
        env["PORT"] = str(instance.ports[0])
        env["PORTS"] = ",".join(str(port) for port in instance.ports)
    env["HOST"] = instance.host
    return env


async def run_probe(
    client: httpx.AsyncClient, check: HealthCheck, instance: Instance, *, starting: bool = False
) -> ProbeResult:
    """One probe. While an instance is `starting` (never passed yet), an HTTP(S) check first
    tries a bare TCP connect: a port nobody listens on yet is refused at almost no cost, which
    matters when many new instances are probed often while they start."""
    timeout = float(max(check.timeout_seconds, 1))
    if check.protocol is HealthProtocol.COMMAND:
        return await probe_command(
            check.command or "true", port_environment(instance), timeout=timeout
        )
    port = probe_port(check, instance)
    if port is None:
        return False, "the health check names a port the instance does not have"
    if check.protocol in (HealthProtocol.TCP, HealthProtocol.MESOS_TCP):
        return await probe_tcp(instance.host, port, timeout=timeout)
    scheme = (
        "https" if check.protocol in (HealthProtocol.HTTPS, HealthProtocol.MESOS_HTTPS) else "http"
    )
    if starting:
        listening, cause = await probe_tcp(instance.host, port, timeout=timeout)
        if not listening:
            return False, cause
    url = f"{scheme}://{instance.host}:{port}{check.path or '/'}"
    return await probe_http(client, url, timeout=timeout, ignore_http1xx=check.ignore_http1xx)
