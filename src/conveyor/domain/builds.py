"""Builds: one run of a pipeline, its steps, and their output.

A step is identified within its build by a `StepId`: the path of positions from the top of the
pipeline, outermost first — `(2,)` is the second top-level step, `(2, 1)` the first step inside
it. Written as text it is dotted: `"2.1"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from conveyor.domain.documents import JsonValue

StepId = tuple[int, ...]


def format_step_id(step_id: StepId) -> str:
    return ".".join(str(part) for part in step_id)


def parse_step_id(text: str) -> StepId:
    """`"2.1"` → `(2, 1)`; ValueError for anything else."""
    parts = tuple(int(part) for part in text.split("."))
    if not parts or any(part < 1 for part in parts):
        raise ValueError(f"not a step id: {text!r}")
    return parts


def is_ancestor(step_id: StepId, of: StepId) -> bool:
    """True when `step_id` contains `of` (a strict prefix of it)."""
    return len(step_id) < len(of) and of[: len(step_id)] == step_id


class StepStatus(StrEnum):
    PENDING = "pending"  # known from the pipeline's structure, not started
    SKIPPED = "skipped"  # never ran: a junction's branch not taken, or the build ended first
    RUNNING = "running"
    WAITING = "waiting"  # a manual trigger waits for a person
    SUCCESS = "success"
    FAILURE = "failure"
    KILLED = "killed"
    DEAD = "dead"  # its worker vanished while it ran

    @property
    def is_final(self) -> bool:
        return self in (
            StepStatus.SUCCESS,
            StepStatus.FAILURE,
            StepStatus.KILLED,
            StepStatus.DEAD,
            StepStatus.SKIPPED,
        )


class BuildStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCESS = "success"
    FAILURE = "failure"
    KILLED = "killed"

    @property
    def is_final(self) -> bool:
        return self in (BuildStatus.SUCCESS, BuildStatus.FAILURE, BuildStatus.KILLED)


class TriggerKind(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    MANUAL = "manual"
    RETRIGGER = "retrigger"


@dataclass(frozen=True)
class Trigger:
    """What started a build: which commit, and what or who."""

    kind: TriggerKind
    by: str
    """A person for manual runs; the git host (`github`, `gitlab`, `gitea`, `generic`) for
    webhooks; `poller` for polling."""
    commit: str | None = None
    ref: str | None = None
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Retriggered:
    """A build started from step `step` of build `number`, reusing the steps before it."""

    number: int
    step: StepId


@dataclass(frozen=True)
class Build:
    pipeline: str
    number: int
    status: BuildStatus
    trigger: Trigger
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    commit: str | None = None
    """The commit built (resolved from the branch when the trigger named none)."""
    retriggered: Retriggered | None = None
    pipeline_file_digest: str | None = None
    pipeline_file_changed: bool | None = None
    """For a retriggered build: did the pipeline file differ from the original build's?"""
    workspace: str | None = None
    task_id: str | None = None
    """The engine task of the build's worker."""
    message: str | None = None
    """Why it failed or was killed, when not a step's own failure."""
    reports_applied: int = 0
    """How many of the worker's reports the store holds (reports are numbered from 1)."""
    worker_token: str | None = None
    """The secret the build's worker presents when it reports (Authorization: Bearer)."""
    failed_steps: tuple[StepId, ...] = ()
    """The steps whose failure failed the build (a failure a junction handled is not one)."""

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Detail:
    """A node of a step's details tree, rendered by the UI: a label, an optional link, optional
    raw text, and children."""

    label: str
    href: str | None = None
    raw: str | None = None
    children: tuple[Detail, ...] = ()


@dataclass(frozen=True)
class ManualTriggerInfo:
    prompt: str
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)
    """Parameter name → {"type": "string"|"integer"|"number"|"boolean", "default": ...}."""
    released_by: str | None = None
    released_parameters: Mapping[str, JsonValue] | None = None
    released_at: datetime | None = None


@dataclass(frozen=True)
class StepRecord:
    pipeline: str
    build: int
    step: StepId
    name: str
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    details: tuple[Detail, ...] = ()
    values: Mapping[str, JsonValue] = field(default_factory=dict)
    """What the step returned besides status/output/details: flows into the next step."""
    reused: bool = False
    """Taken from the build this one was retriggered from, not run again."""
    manual: ManualTriggerInfo | None = None
    message: str | None = None


@dataclass(frozen=True)
class OutputLine:
    """One line a step printed. `seq` orders the lines of a step (from 1)."""

    seq: int
    at: datetime
    text: str


def _commands_prefix(pipeline: str) -> str:
    return f"build.commands:{pipeline}:"


def _worker_prefix(pipeline: str) -> str:
    return f"build.worker:{pipeline}:"


def pending_commands_key(pipeline: str, number: int) -> str:
    """The store key of the commands waiting for a build's worker (release, kill)."""
    return f"{_commands_prefix(pipeline)}{number}"


def worker_handle_key(pipeline: str, number: int) -> str:
    """The store key of what the engine needs to find a build's worker after a restart."""
    return f"{_worker_prefix(pipeline)}{number}"


def build_keys(pipeline: str, number: int) -> tuple[str, ...]:
    """Every store key kept for one build, forgotten with it."""
    return pending_commands_key(pipeline, number), worker_handle_key(pipeline, number)


def pipeline_key_prefixes(pipeline: str) -> tuple[str, ...]:
    """The prefixes of every store key kept for a pipeline's builds (names hold no `:`)."""
    return _commands_prefix(pipeline), _worker_prefix(pipeline)


def build_task_id(pipeline: str, number: int) -> str:
    """The engine task id of a build's worker (`@` never appears in app task ids)."""
    return f"build@{pipeline}.{number}"


BUILD_TASK_PREFIX = "build@"
