"""`ConveyorClient`: the server's HTTP API as Python calls, on httpx.

```python
with ConveyorClient("http://127.0.0.1:8080") as client:
    ref = client.create_or_update_app({"id": "/web", "cmd": "...", "instances": 2})
    outcome = client.wait_for_deployment(ref.deployment_id, timeout=300, app_ids=ref.app_ids)
```

Apps, tasks and deployments come back as the server's JSON (Marathon 1.6–1.8 shapes); changes
come back as `DeploymentRef`s. Pipelines and builds are in `pipelines.py`, the connection in
`transport.py`. Errors are `ClientError`s (see `errors.py`)."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

from conveyor.client.errors import ClientError, NotFound
from conveyor.client.models import (
    DeploymentOutcome,
    DeploymentRef,
    JsonObject,
    KilledTasks,
    LogChunk,
    LogLine,
    normalize_app_id,
)
from conveyor.client.pipelines import PipelineCalls
from conveyor.client.sse import SseParser
from conveyor.client.transport import DEFAULT_SERVER
from conveyor.client.watching import DeploymentWatcher, ProgressCallback

__all__ = ["DEFAULT_SERVER", "ConveyorClient"]


def _flags(**flags: bool) -> dict[str, str]:
    return {name: "true" for name, value in flags.items() if value}


class ConveyorClient(PipelineCalls):
    # apps

    def list_apps(self) -> list[JsonObject]:
        apps: list[JsonObject] = self._json("GET", "/v2/apps")["apps"]
        return apps

    def get_app(self, app_id: str) -> JsonObject:
        """The app with its tasks and, if one failed, `lastTaskFailure`. Raises NotFound."""
        app: JsonObject = self._json("GET", f"/v2/apps{normalize_app_id(app_id)}")["app"]
        return app

    def create_or_update_app(
        self, definition: Mapping[str, Any], *, force: bool = False
    ) -> DeploymentRef:
        """Create the app `definition` describes, or replace the definition of the app with its
        id. `force` overrides (and cancels) deployments that hold the app."""
        if not isinstance(definition.get("id"), str):
            raise ClientError(None, "the app definition has no `id`")
        app_id = normalize_app_id(definition["id"])
        document = {**definition, "id": app_id}
        try:
            self.get_app(app_id)
        except NotFound:
            response = self._request("POST", "/v2/apps", body=document, params=_flags(force=force))
            version = str(response.json().get("version", ""))
            return DeploymentRef(response.headers["Marathon-Deployment-Id"], version, (app_id,))
        params = {"partialUpdate": "false", **_flags(force=force)}
        body = self._json("PUT", f"/v2/apps{app_id}", body=document, params=params)
        return DeploymentRef.from_json(body, app_ids=(app_id,))

    def _change_app(
        self, method: str, app_id: str, suffix: str = "", *, body: object = None, force: bool
    ) -> DeploymentRef:
        app_id = normalize_app_id(app_id)
        path = f"/v2/apps{app_id}{suffix}"
        result = self._json(method, path, body=body, params=_flags(force=force))
        return DeploymentRef.from_json(result, app_ids=(app_id,))

    def scale_app(self, app_id: str, *, instances: int, force: bool = False) -> DeploymentRef:
        """Raises NotFound for an app that does not exist (Marathon's PUT would try to create
        it from `{"instances": N}`, and refuse that as an invalid definition)."""
        self.get_app(app_id)
        return self._change_app("PUT", app_id, body={"instances": instances}, force=force)

    def restart_app(self, app_id: str, *, force: bool = False) -> DeploymentRef:
        """Replace every instance (rolling, by the app's upgrade strategy)."""
        return self._change_app("POST", app_id, "/restart", force=force)

    def list_app_versions(self, app_id: str) -> list[str]:
        """The app's version timestamps, newest (the current one) first."""
        path = f"/v2/apps{normalize_app_id(app_id)}/versions"
        versions: list[str] = self._json("GET", path)["versions"]
        return versions

    def previous_version(self, app_id: str) -> str:
        versions = self.list_app_versions(app_id)
        if len(versions) < 2:
            message = f"App '{normalize_app_id(app_id)}' has no earlier version to roll back to"
            raise ClientError(None, message)
        return versions[1]

    def rollback_app(
        self, app_id: str, *, version: str | None = None, force: bool = False
    ) -> DeploymentRef:
        """Deploy the configuration of `version` (default: the version before the current)."""
        target = version or self.previous_version(app_id)
        return self._change_app("PUT", app_id, body={"version": target}, force=force)

    def delete_app(self, app_id: str, *, force: bool = False) -> DeploymentRef:
        return self._change_app("DELETE", app_id, force=force)

    # tasks

    def list_tasks(self, app_id: str | None = None) -> list[JsonObject]:
        """Every current task, or those of `app_id`."""
        path = "/v2/tasks" if app_id is None else f"/v2/apps{normalize_app_id(app_id)}/tasks"
        tasks: list[JsonObject] = self._json("GET", path)["tasks"]
        return tasks

    def list_ended_tasks(self, app_id: str, *, limit: int = 1) -> list[JsonObject]:
        """Up to `limit` of the app's most recently ended tasks, newest first (native API:
        `id`, `state`, `endedAt`, `message`); their logs stay readable."""
        params = {"app": normalize_app_id(app_id), "ended": str(limit)}
        tasks: list[JsonObject] = self._json("GET", "/api/tasks", params=params)
        return [task for task in tasks if task.get("endedAt")]

    def get_waiting(self, app_id: str) -> JsonObject | None:
        """Whether instances of the app wait to launch, and why in words (native API:
        `waiting`, `reason`, `launchDelaySeconds`); None when none wait."""
        params = {"app": normalize_app_id(app_id)}
        items: list[JsonObject] = self._json("GET", "/api/queue", params=params)
        return items[0] if items else None

    def kill_tasks(
        self, task_ids: Sequence[str], *, scale: bool = False, force: bool = False
    ) -> KilledTasks:
        """Kill tasks; their apps replace them, unless `scale` lowers the apps' instances."""
        params = _flags(scale=scale, force=force)
        body = self._json("POST", "/v2/tasks/delete", body={"ids": list(task_ids)}, params=params)
        if scale:
            return KilledTasks((), DeploymentRef.from_json(body))
        return KilledTasks(tuple(body.get("tasks", [])), None)

    # deployments

    def list_deployments(self) -> list[JsonObject]:
        deployments: list[JsonObject] = self._json("GET", "/v2/deployments")
        return deployments

    def cancel_deployment(self, deployment_id: str, *, force: bool = False) -> DeploymentRef | None:
        """Roll the deployment's changes back (returns the rollback deployment), or with `force`
        just stop it where it is (returns None)."""
        path = f"/v2/deployments/{deployment_id}"
        response = self._request("DELETE", path, params=_flags(force=force))
        if response.status_code == 202 or not response.content:
            return None
        return DeploymentRef.from_json(response.json())

    def wait_for_deployment(
        self,
        deployment_id: str,
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None = None,
        app_ids: Sequence[str] = (),
        poll_interval: float = 0.5,
    ) -> DeploymentOutcome:
        """Block until the deployment ends, calling `on_progress` at each look while it runs.
        A failed deployment is an outcome, not an exception; so is running past `timeout`.
        Not for use inside a running event loop (it runs one of its own)."""
        watcher = DeploymentWatcher(
            self.base_url,
            deployment_id,
            app_ids=tuple(normalize_app_id(a) for a in app_ids),
            on_progress=on_progress,
            poll_interval=poll_interval,
            http_timeout=self.timeout,
        )
        return watcher.wait(timeout)

    # logs

    def _read_log_bytes(
        self, task_id: str, *, stream: str, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        params = {"stream": stream, "offset": str(offset)}
        if limit is not None:
            params["limit"] = str(limit)
        response = self._request("GET", f"/api/tasks/{task_id}/logs", params=params)
        next_offset = response.headers.get("X-Log-Offset")
        if next_offset is None or not next_offset.isdigit():
            return response.content, offset + len(response.content)
        return response.content, int(next_offset)

    def read_log(
        self, task_id: str, *, stream: str = "stdout", offset: int = 0, limit: int | None = None
    ) -> LogChunk:
        """Output of a task from `offset` on (up to `limit` bytes or the server's limit)."""
        data, next_offset = self._read_log_bytes(task_id, stream=stream, offset=offset, limit=limit)
        return LogChunk(data.decode("utf-8", errors="replace"), next_offset)

    def read_whole_log(self, task_id: str, *, stream: str = "stdout") -> str:
        """Everything the task has written to `stream` so far."""
        parts: list[bytes] = []
        offset = 0
        while True:
            data, next_offset = self._read_log_bytes(
                task_id, stream=stream, offset=offset, limit=None
            )
            if not data or next_offset == offset:
                return b"".join(parts).decode("utf-8", errors="replace")
            parts.append(data)
            offset = next_offset

    def follow_log(
        self, task_id: str, *, stream: str = "stdout", offset: int = 0
    ) -> Generator[LogLine, None, None]:
        """The task's output from `offset` on, line by line as it is written, until the server
        ends the stream or the iterator is closed."""
        params = {"stream": stream, "offset": str(offset)}
        lines = self._event_stream(f"/api/tasks/{task_id}/logs", params=params)
        try:
            yield from _log_lines(lines)
        finally:
            lines.close()


def _log_lines(lines: Iterator[str]) -> Iterator[LogLine]:
    parser = SseParser()
    for line in lines:
        message = parser.feed(line)
        if message is not None and message.event == "log":
            next_offset = int(message.id) if message.id and message.id.isdigit() else None
            yield LogLine(message.data, next_offset)
