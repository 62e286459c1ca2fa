"""Waiting for a deployment to end, and telling whether it succeeded.

A deployment is running while `GET /v2/deployments` lists it. When it is gone, the event stream
(`/v2/events`, subscribed before the first look) says how it ended: `deployment_success` or
`deployment_failed` (cancelled, or superseded by a forced change). If the deployment ended before
the subscription was attached, the affected apps tell instead: an app that another deployment
now holds, or whose running instances do not match its wanted count, means it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from conveyor.client.errors import error_from_response, translated_errors
from conveyor.client.models import (
    DeploymentOutcome,
    DeploymentProgress,
    DeploymentResult,
    JsonObject,
)
from conveyor.client.sse import SseMessage, SseParser

ProgressCallback = Callable[[DeploymentProgress], None]

ATTACH_SECONDS = 2.0
EVENT_GRACE_SECONDS = 1.0
ENDINGS = {
    "deployment_success": DeploymentResult.SUCCEEDED,
    "deployment_failed": DeploymentResult.FAILED,
}


@dataclass
class _EventListener:
    """Listens to `/v2/events` for the end of one deployment."""

    deployment_id: str
    outcome: DeploymentOutcome | None = None
    attached: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def listen(self, http: httpx.AsyncClient) -> None:
        params = {"event_type": ["event_stream_attached", *ENDINGS]}
        headers = {"Accept": "text/event-stream"}
        timeout = httpx.Timeout(http.timeout.connect, read=None)
        try:
            async with http.stream(
                "GET", "/v2/events", params=params, headers=headers, timeout=timeout
            ) as response:
                if response.is_success:
                    parser = SseParser()
                    async for line in response.aiter_lines():
                        message = parser.feed(line)
                        if message is not None:
                            self._receive(message)
        except httpx.HTTPError:
            pass  # the events only help: polling decides without them
        finally:
            self.attached.set()

    def _receive(self, message: SseMessage) -> None:
        if message.event == "event_stream_attached":
            self.attached.set()
            return
        result = ENDINGS.get(message.event)
        if result is None:
            return
        try:
            payload = json.loads(message.data)
        except ValueError:
            return
        if isinstance(payload, dict) and payload.get("id") == self.deployment_id:
            verb = "finished" if result is DeploymentResult.SUCCEEDED else "failed"
            detail = "" if verb == "finished" else " (cancelled, superseded or a step failed)"
            self.outcome = DeploymentOutcome(
                self.deployment_id, result, f"deployment {self.deployment_id} {verb}{detail}"
            )
            self.ended.set()

    async def wait_ended(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), seconds)


@dataclass
class DeploymentWatcher:
    base_url: str
    deployment_id: str
    app_ids: tuple[str, ...] = ()
    on_progress: ProgressCallback | None = None
    poll_interval: float = 0.5
    http_timeout: float = 10.0

    def wait(self, timeout: float | None) -> DeploymentOutcome:
        """Block until the deployment ends or `timeout` seconds pass (None: no limit)."""
        return asyncio.run(self._wait(timeout))

    async def _wait(self, timeout: float | None) -> DeploymentOutcome:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.http_timeout) as http:
            events = _EventListener(self.deployment_id)
            listener = asyncio.create_task(events.listen(http))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(events.attached.wait(), ATTACH_SECONDS)
                return await asyncio.wait_for(self._follow(http, events), timeout)
            except TimeoutError:
                message = f"deployment {self.deployment_id} still running after {timeout:g}s"
                return DeploymentOutcome(self.deployment_id, DeploymentResult.TIMED_OUT, message)
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _follow(self, http: httpx.AsyncClient, events: _EventListener) -> DeploymentOutcome:
        while events.outcome is None:
            progress = await self._look(http)
            if progress is None:
                await events.wait_ended(EVENT_GRACE_SECONDS)
                return (
                    events.outcome
                    or await self._recorded_outcome(http)
                    or await self._judge_by_apps(http)
                )
            self.app_ids = progress.affected_apps or self.app_ids
            if self.on_progress is not None:
                self.on_progress(progress)
            await events.wait_ended(self.poll_interval)
        return events.outcome

    async def _get(self, http: httpx.AsyncClient, path: str) -> httpx.Response:
        with translated_errors(self.base_url):
            return await http.get(path)

    async def _look(self, http: httpx.AsyncClient) -> DeploymentProgress | None:
        response = await self._get(http, "/v2/deployments")
        if response.is_error:
            raise error_from_response(response)
        for item in response.json():
            if item.get("id") == self.deployment_id:
                return DeploymentProgress.from_json(item)
        return None

    async def _recorded_outcome(self, http: httpx.AsyncClient) -> DeploymentOutcome | None:
        """How the server recorded the deployment's end, for when its event was missed."""
        response = await self._get(http, f"/api/deployments/{self.deployment_id}")
        if response.status_code != 200:
            return None
        status = response.json().get("status")
        if status == "succeeded":
            message = f"deployment {self.deployment_id} finished"
            return DeploymentOutcome(self.deployment_id, DeploymentResult.SUCCEEDED, message)
        if status in ("canceled", "failed"):
            message = f"deployment {self.deployment_id} was {status}"
            return DeploymentOutcome(self.deployment_id, DeploymentResult.FAILED, message)
        return None

    async def _judge_by_apps(self, http: httpx.AsyncClient) -> DeploymentOutcome:
        for app_id in self.app_ids:
            problem = await self._app_problem(http, app_id)
            if problem is not None:
                message = f"deployment {self.deployment_id} failed: {problem}"
                return DeploymentOutcome(self.deployment_id, DeploymentResult.FAILED, message)
        message = f"deployment {self.deployment_id} finished"
        return DeploymentOutcome(self.deployment_id, DeploymentResult.SUCCEEDED, message)

    async def _app_problem(self, http: httpx.AsyncClient, app_id: str) -> str | None:
        response = await self._get(http, f"/v2/apps{app_id}")
        if response.status_code == 404:
            return None
        if response.is_error:
            raise error_from_response(response)
        return app_problem(response.json()["app"], self.deployment_id)


def app_problem(app: JsonObject, deployment_id: str) -> str | None:
    """Why `app` is not what the ended deployment `deployment_id` was to make of it, if it
    is not."""
    others = [d.get("id") for d in app.get("deployments", []) if d.get("id") != deployment_id]
    if others:
        return f"{app['id']} is now changed by deployment {others[0]} (cancelled or superseded)"
    wanted = int(app.get("instances", 0))
    if app.get("healthChecks"):
        healthy = int(app.get("tasksHealthy", 0))
        if healthy != wanted:
            return f"{app['id']} has {healthy} of {wanted} instances healthy"
        return None
    running = int(app.get("tasksRunning", 0))
    if running != wanted:
        return f"{app['id']} has {running} of {wanted} instances running"
    return None
