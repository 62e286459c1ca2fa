"""The values the client returns besides plain JSON: references to deployments, their progress
and outcome, pieces of task and step output, pages of builds. Apps, tasks, deployments,
pipelines and builds themselves are returned as the server's JSON objects (Marathon's shapes and
the native API's), which callers index like any dict; a few helpers read builds' step trees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JsonObject = dict[str, Any]


def normalize_app_id(app_id: str) -> str:
    """`web`, `/web/` and ` /web` all name the app `/web`."""
    trimmed = app_id.strip().strip("/")
    return "/" + trimmed


@dataclass(frozen=True)
class DeploymentRef:
    """What a change returns: the deployment carrying it out and the version it creates."""

    deployment_id: str
    version: str
    app_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: JsonObject, *, app_ids: tuple[str, ...] = ()) -> DeploymentRef:
        return cls(str(body["deploymentId"]), str(body.get("version", "")), app_ids)


@dataclass(frozen=True)
class DeploymentAction:
    action: str
    app: str


@dataclass(frozen=True)
class DeploymentProgress:
    """One look at a running deployment (an item of `GET /v2/deployments`)."""

    deployment_id: str
    affected_apps: tuple[str, ...]
    current_step: int
    total_steps: int
    current_actions: tuple[DeploymentAction, ...]

    @classmethod
    def from_json(cls, item: JsonObject) -> DeploymentProgress:
        actions = tuple(
            DeploymentAction(str(a.get("action", "")), str(a.get("app", a.get("pod", ""))))
            for a in item.get("currentActions", [])
        )
        return cls(
            deployment_id=str(item["id"]),
            affected_apps=tuple(str(app) for app in item.get("affectedApps", [])),
            current_step=int(item.get("currentStep", 0)),
            total_steps=int(item.get("totalSteps", 0)),
            current_actions=actions,
        )


class DeploymentResult(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed out"


@dataclass(frozen=True)
class DeploymentOutcome:
    """How a deployment ended (or that it had not ended when waiting stopped)."""

    deployment_id: str
    result: DeploymentResult
    message: str

    @property
    def succeeded(self) -> bool:
        return self.result is DeploymentResult.SUCCEEDED


@dataclass(frozen=True)
class KilledTasks:
    """What `kill_tasks` did: the tasks it killed, or with `scale` the deployment that
    lowers the apps' instance counts."""

    tasks: tuple[JsonObject, ...]
    deployment: DeploymentRef | None


@dataclass(frozen=True)
class LogChunk:
    """Output read from a task's log: `text` from the offset asked for, and where to go on."""

    text: str
    next_offset: int


@dataclass(frozen=True)
class LogLine:
    """One line of a followed log; `next_offset` is where the line ends in the log file."""

    text: str
    next_offset: int | None


BUILD_ENDINGS = frozenset({"success", "failure", "killed"})
STEP_ENDINGS = BUILD_ENDINGS | {"dead", "skipped"}


def build_has_ended(build: JsonObject) -> bool:
    return build.get("status") in BUILD_ENDINGS


def step_has_ended(step: JsonObject) -> bool:
    return step.get("status") in STEP_ENDINGS


def all_steps(build: JsonObject) -> Iterator[JsonObject]:
    """Every step of a build's step tree, depth first: `1`, `2`, `2.1`, `2.2`, `3`."""
    pending = list(reversed(build.get("steps") or []))
    while pending:
        step = pending.pop()
        yield step
        pending.extend(reversed(step.get("children") or []))


def find_step(build: JsonObject, step_id: str) -> JsonObject | None:
    return next((step for step in all_steps(build) if step.get("id") == step_id), None)


@dataclass(frozen=True)
class BuildPage:
    """Builds of a pipeline, newest first; `next_before` fetches the next (older) page."""

    builds: tuple[JsonObject, ...]
    next_before: int | None

    @classmethod
    def from_json(cls, body: JsonObject) -> BuildPage:
        next_before = body.get("nextBefore")
        return cls(tuple(body.get("builds", [])), int(next_before) if next_before else None)

    def to_json(self) -> JsonObject:
        return {"builds": list(self.builds), "nextBefore": self.next_before}


@dataclass(frozen=True)
class OutputLine:
    """One line a build step wrote: its number in the step's output, when, and the text."""

    seq: int | None
    at: str
    text: str
