"""A build order: everything a worker needs to run one build, written by the server as
`build.json` in the build's directory before the worker starts. The worker reads nothing else
from the server to begin (it reports back over HTTP, see `build_reports`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from conveyor.domain.builds import StepId, StepStatus, format_step_id, parse_step_id
from conveyor.domain.documents import JsonObject, JsonValue


@dataclass(frozen=True)
class RecordedStep:
    """A step of the original build that a retriggered build takes as it was."""

    step: StepId
    name: str
    status: StepStatus
    values: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildOrder:
    pipeline: str
    number: int
    repository: str
    branch: str
    file: str
    commit: str | None
    """None: build the branch's head (the worker resolves it and reports it)."""
    workspace: str
    server: str
    token: str
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)
    retrigger_from: StepId | None = None
    recorded: tuple[RecordedStep, ...] = ()
    original_digest: str | None = None
    """The pipeline file digest of the original build, for a retriggered build."""
    timeout_seconds: int | None = None


def order_to_json(order: BuildOrder) -> str:
    document: JsonObject = {
        "pipeline": order.pipeline,
        "number": order.number,
        "repository": order.repository,
        "branch": order.branch,
        "file": order.file,
        "commit": order.commit,
        "workspace": order.workspace,
        "server": order.server,
        "token": order.token,
        "parameters": dict(order.parameters),
        "retriggerFrom": None
        if order.retrigger_from is None
        else format_step_id(order.retrigger_from),
        "recorded": [
            {
                "step": format_step_id(r.step),
                "name": r.name,
                "status": r.status.value,
                "values": dict(r.values),
            }
            for r in order.recorded
        ],
        "originalDigest": order.original_digest,
        "timeoutSeconds": order.timeout_seconds,
    }
    return json.dumps(document, indent=2)


def order_from_json(text: str) -> BuildOrder:
    """Read what `order_to_json` wrote (the server wrote it: trusted, but checked for shape)."""
    document = json.loads(text)
    recorded = tuple(
        RecordedStep(
            step=parse_step_id(item["step"]),
            name=str(item["name"]),
            status=StepStatus(item["status"]),
            values=dict(item.get("values") or {}),
        )
        for item in document.get("recorded") or []
    )
    retrigger_from = document.get("retriggerFrom")
    return BuildOrder(
        pipeline=str(document["pipeline"]),
        number=int(document["number"]),
        repository=str(document["repository"]),
        branch=str(document["branch"]),
        file=str(document["file"]),
        commit=document.get("commit"),
        workspace=str(document["workspace"]),
        server=str(document["server"]),
        token=str(document["token"]),
        parameters=dict(document.get("parameters") or {}),
        retrigger_from=None if retrigger_from is None else parse_step_id(retrigger_from),
        recorded=recorded,
        original_digest=document.get("originalDigest"),
        timeout_seconds=document.get("timeoutSeconds"),
    )
