"""The values the client returns besides plain JSON: references to deployments, their progress
and outcome, and pieces of task output. Apps, tasks and deployments themselves are returned as
the server's JSON objects (Marathon's shapes), which callers index like any dict."""

from __future__ import annotations

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
