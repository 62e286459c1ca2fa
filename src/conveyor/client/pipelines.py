"""The native API's pipelines and builds (`/api/pipelines/...`) as client calls, mixed into
`ConveyorClient`.

```python
with ConveyorClient("http://127.0.0.1:8080") as client:
    client.create_pipeline({"name": "shop", "repository": "/src/shop", "pollSeconds": None})
    build = client.trigger_build("shop", by="ada")
    ended = client.wait_for_build("shop", build["number"], timeout=600)  # or BuildWaitTimeout
    print(ended["status"], client.read_step_output("shop", build["number"], "1"))
```

Pipelines and builds come back as the server's JSON (camelCase); a build's `steps` are a tree
(see `all_steps`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from conveyor.client.errors import ClientError, Conflict
from conveyor.client.models import (
    BuildPage,
    JsonObject,
    OutputLine,
    build_has_ended,
    find_step,
    step_has_ended,
)
from conveyor.client.sse import SseMessage, SseParser
from conveyor.client.transport import Transport

BuildCallback = Callable[[JsonObject], None]
StopCheck = Callable[[], bool]


class BuildWaitTimeout(ClientError, TimeoutError):
    """`wait_for_build` gave up: the build had not ended when its `timeout` passed. `build` is
    the last look at it (the build goes on)."""

    def __init__(self, build: JsonObject, timeout: float, *, awaited: str = "ended") -> None:
        name = f"{build.get('pipeline')} #{build.get('number')}"
        super().__init__(
            None,
            f"build {name} has not {awaited} after {timeout:g} s (it is {build.get('status')})",
        )
        self.build = build
        self.timeout = timeout


def _pipeline_path(name: str) -> str:
    return f"/api/pipelines/{quote(name, safe='')}"


def _build_path(pipeline: str, number: int) -> str:
    return f"{_pipeline_path(pipeline)}/builds/{number}"


def _step_path(pipeline: str, number: int, step: str) -> str:
    return f"{_build_path(pipeline, number)}/steps/{quote(step, safe='')}"


def _without_none(**fields: object) -> dict[str, object]:
    return {name: value for name, value in fields.items() if value is not None}


class PipelineCalls(Transport):
    # pipelines

    def list_pipelines(self) -> list[JsonObject]:
        """Every pipeline with its settings and `lastBuild`."""
        pipelines: list[JsonObject] = self._json("GET", "/api/pipelines")
        return pipelines

    def get_pipeline(self, name: str) -> JsonObject:
        """The pipeline's settings and `lastBuild`. Raises NotFound."""
        pipeline: JsonObject = self._json("GET", _pipeline_path(name))
        return pipeline

    def create_pipeline(self, definition: Mapping[str, Any]) -> JsonObject:
        """Register a pipeline (`name`, `repository`, optional settings). Raises Conflict if one
        of that name exists."""
        pipeline: JsonObject = self._json("POST", "/api/pipelines", body=dict(definition))
        return pipeline

    def put_pipeline(self, definition: Mapping[str, Any]) -> JsonObject:
        """Register the pipeline, or replace the settings of the one of that name."""
        path = _pipeline_path(str(definition.get("name", "")))
        pipeline: JsonObject = self._json("PUT", path, body=dict(definition))
        return pipeline

    def delete_pipeline(self, name: str) -> None:
        """Forget the pipeline and its builds. Raises Conflict while builds are unfinished."""
        self._request("DELETE", _pipeline_path(name))

    # builds

    def trigger_build(
        self,
        pipeline: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        commit: str | None = None,
        by: str | None = None,
    ) -> JsonObject:
        """Queue a build (of `commit`, default the branch's head when it starts)."""
        body = _without_none(parameters=dict(parameters or {}), commit=commit, by=by)
        build: JsonObject = self._json("POST", f"{_pipeline_path(pipeline)}/builds", body=body)
        return build

    def list_builds(
        self, pipeline: str, *, limit: int | None = None, before: int | None = None
    ) -> BuildPage:
        """Builds newest first: `limit` of them (server default 20), numbered below `before`."""
        params = {k: str(v) for k, v in _without_none(limit=limit, before=before).items()}
        body = self._json("GET", f"{_pipeline_path(pipeline)}/builds", params=params)
        return BuildPage.from_json(body)

    def get_build(self, pipeline: str, number: int) -> JsonObject:
        """The build with its step tree (`steps`, each with `children`). Raises NotFound."""
        build: JsonObject = self._json("GET", _build_path(pipeline, number))
        return build

    def wait_for_build(
        self,
        pipeline: str,
        number: int,
        *,
        timeout: float | None = None,
        on_progress: BuildCallback | None = None,
        poll_interval: float = 0.5,
    ) -> JsonObject:
        """Look at the build until it ends, calling `on_progress` with each look; the ended
        build. Raises BuildWaitTimeout (a TimeoutError and a ClientError, with the last look
        as `build`) when `timeout` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            build = self.get_build(pipeline, number)
            if on_progress is not None:
                on_progress(build)
            if build_has_ended(build):
                return build
            if deadline is not None and time.monotonic() > deadline:
                raise BuildWaitTimeout(build, timeout or 0.0)
            time.sleep(poll_interval)

    def wait_until_step_waits(
        self,
        pipeline: str,
        number: int,
        step: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 0.2,
    ) -> JsonObject:
        """Look at the build until its manual trigger `step` waits for a release; the build
        then. Raises Conflict when the step or the build ends first, BuildWaitTimeout when
        `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            build = self.get_build(pipeline, number)
            found = find_step(build, step)
            if found is not None and found.get("status") == "waiting":
                return build
            if build_has_ended(build) or (found is not None and step_has_ended(found)):
                status = found.get("status") if found is not None else "not in the build"
                message = (
                    f"step {step} of {pipeline} #{number} will not wait for a release: it is "
                    f"{status}, and the build is {build.get('status')}"
                )
                raise Conflict(None, message)
            if time.monotonic() > deadline:
                awaited = f"asked for step {step} to be released"
                raise BuildWaitTimeout(build, timeout, awaited=awaited)
            time.sleep(poll_interval)

    def retrigger_build(
        self, pipeline: str, number: int, *, step: str, by: str | None = None
    ) -> JsonObject:
        """A new build of the same commit that reuses the results of the steps before `step`
        and runs from there."""
        body = _without_none(step=step, by=by)
        path = f"{_build_path(pipeline, number)}/retrigger"
        build: JsonObject = self._json("POST", path, body=body)
        return build

    def kill_build(self, pipeline: str, number: int) -> None:
        """Ask for the build to be killed (it ends shortly after). Raises Conflict if it ended."""
        self._request("POST", f"{_build_path(pipeline, number)}/kill", body={})

    def kill_step(self, pipeline: str, number: int, step: str) -> None:
        """Ask for one running step to be killed; what follows decides how the build goes on."""
        self._request("POST", f"{_step_path(pipeline, number, step)}/kill", body={})

    def release_step(
        self, pipeline: str, number: int, step: str, *, by: str, parameters: Mapping[str, Any]
    ) -> JsonObject:
        """Release a waiting manual trigger; answers `{released, by, parameters}` with the
        parameters typed and defaulted. Raises Invalid naming `/parameters/<name>` for bad ones,
        Conflict if the step does not wait."""
        body = {"by": by, "parameters": dict(parameters)}
        released: JsonObject = self._json(
            "POST", f"{_step_path(pipeline, number, step)}/release", body=body
        )
        return released

    # step output

    def read_step_output(self, pipeline: str, number: int, step: str) -> str:
        """Everything the step has written so far, one line per output line."""
        response = self._request("GET", f"{_step_path(pipeline, number, step)}/output")
        return response.content.decode("utf-8", errors="replace")

    def follow_step_output(
        self,
        pipeline: str,
        number: int,
        step: str,
        *,
        stop_when: StopCheck | None = None,
        check_every: float = 1.0,
    ) -> Generator[OutputLine, None, None]:
        """The step's output from its first line on, as it is written, until the step is over
        (or the iterator is closed). While nothing comes, `stop_when` is asked every
        `check_every` seconds whether to stop waiting (say, for a step that will never run)."""
        lines = self._event_stream(f"{_step_path(pipeline, number, step)}/output")
        try:
            yield from output_lines(lines, stop_when, check_every)
        finally:
            lines.close()


def _output_line(message: SseMessage) -> OutputLine:
    try:
        data = json.loads(message.data)
    except ValueError:
        data = {"text": message.data}
    seq = int(message.id) if message.id and message.id.isdigit() else None
    return OutputLine(seq, str(data.get("at", "")), str(data.get("text", "")))


def output_lines(
    lines: Iterator[str], stop_when: StopCheck | None, check_every: float
) -> Iterator[OutputLine]:
    """The `line` events of a step's output stream, up to its `end` event; while the server
    only says it is waiting, `stop_when` decides every `check_every` seconds whether to stop."""
    parser = SseParser()
    checked = time.monotonic()
    for line in lines:
        if line.startswith(":") and stop_when is not None:  # the server's `: waiting`
            if time.monotonic() - checked >= check_every:
                if stop_when():
                    return
                checked = time.monotonic()
            continue
        message = parser.feed(line)
        if message is None:
            continue
        if message.event == "end":
            return
        if message.event == "line":
            yield _output_line(message)
