"""What a build's worker reports to the server, and what the server answers: the one wire
format both sides share.

The worker numbers its reports from 1 and spools them to its build directory before shipping
them (`POST /api/pipelines/{name}/builds/{number}/reports`, a JSON list); the server applies each
number once, so resending after a lost answer or a server restart is harmless. The answer names
the last applied number and carries commands for the worker (release a manual trigger, kill a
step, kill the build).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from conveyor.domain.builds import (
    BuildStatus,
    Detail,
    StepId,
    StepStatus,
    format_step_id,
    parse_step_id,
)
from conveyor.domain.clock import format_timestamp, parse_timestamp
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid, Violation


@dataclass(frozen=True)
class BuildStarted:
    at: datetime
    commit: str | None
    pipeline_file_digest: str
    structure: tuple[tuple[StepId, str], ...] = ()
    """Every step the pipeline declares, in order: shown as pending until it runs."""


@dataclass(frozen=True)
class StepStarted:
    step: StepId
    name: str
    at: datetime


@dataclass(frozen=True)
class StepWaiting:
    step: StepId
    at: datetime
    prompt: str
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StepOutput:
    step: StepId
    first_seq: int
    """The per-step number of the first line; the others follow."""
    lines: tuple[tuple[datetime, str], ...]


@dataclass(frozen=True)
class StepFinished:
    step: StepId
    status: StepStatus
    at: datetime
    details: tuple[Detail, ...] = ()
    values: Mapping[str, JsonValue] = field(default_factory=dict)
    message: str | None = None
    reused: bool = False
    released_by: str | None = None
    released_parameters: Mapping[str, JsonValue] | None = None


@dataclass(frozen=True)
class BuildFinished:
    status: BuildStatus
    at: datetime
    message: str | None = None
    failed_steps: tuple[StepId, ...] = ()
    """The steps whose failure failed the build (not a junction's condition it handled)."""


Report = BuildStarted | StepStarted | StepWaiting | StepOutput | StepFinished | BuildFinished


@dataclass(frozen=True)
class NumberedReport:
    seq: int
    report: Report


@dataclass(frozen=True)
class ReleaseStep:
    step: StepId
    by: str
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class KillStep:
    step: StepId


@dataclass(frozen=True)
class KillBuild:
    reason: str = "killed"


Command = ReleaseStep | KillStep | KillBuild


def detail_to_json(detail: Detail) -> JsonObject:
    document: JsonObject = {"label": detail.label}
    if detail.href is not None:
        document["href"] = detail.href
    if detail.raw is not None:
        document["raw"] = detail.raw
    if detail.children:
        document["children"] = [detail_to_json(child) for child in detail.children]
    return document


def detail_from_json(document: JsonValue) -> Detail:
    if not isinstance(document, dict) or not isinstance(document.get("label"), str):
        raise Invalid([Violation("/details", "each detail needs a string 'label'")])
    children = document.get("children") or []
    href, raw = document.get("href"), document.get("raw")
    return Detail(
        label=str(document["label"]),
        href=href if isinstance(href, str) else None,
        raw=raw if isinstance(raw, str) else None,
        children=tuple(detail_from_json(c) for c in children) if isinstance(children, list) else (),
    )


def _step_fields(step: StepId) -> JsonObject:
    return {"step": format_step_id(step)}


def report_to_json(numbered: NumberedReport) -> JsonObject:
    report = numbered.report
    document: JsonObject = {"seq": numbered.seq, "at": format_timestamp(_at(report))}
    if isinstance(report, BuildStarted):
        document |= {
            "type": "build-started",
            "commit": report.commit,
            "pipelineFileDigest": report.pipeline_file_digest,
            "structure": [[format_step_id(s), name] for s, name in report.structure],
        }
    elif isinstance(report, StepStarted):
        document |= {"type": "step-started", **_step_fields(report.step), "name": report.name}
    elif isinstance(report, StepWaiting):
        document |= {
            "type": "step-waiting",
            **_step_fields(report.step),
            "prompt": report.prompt,
            "parameters": dict(report.parameters),
        }
    elif isinstance(report, StepOutput):
        document |= {
            "type": "step-output",
            **_step_fields(report.step),
            "firstSeq": report.first_seq,
            "lines": [[format_timestamp(at), text] for at, text in report.lines],
        }
    elif isinstance(report, StepFinished):
        document |= {
            "type": "step-finished",
            **_step_fields(report.step),
            "status": report.status.value,
            "details": [detail_to_json(d) for d in report.details],
            "values": dict(report.values),
            "message": report.message,
            "reused": report.reused,
            "releasedBy": report.released_by,
            "releasedParameters": None
            if report.released_parameters is None
            else dict(report.released_parameters),
        }
    else:
        document |= {
            "type": "build-finished",
            "status": report.status.value,
            "message": report.message,
            "failedSteps": [format_step_id(step) for step in report.failed_steps],
        }
    return document


def _at(report: Report) -> datetime:
    if isinstance(report, StepOutput):
        return report.lines[-1][0] if report.lines else datetime.fromtimestamp(0).astimezone()
    return report.at


class _Reader:
    """Reads one report document, collecting violations under `/({index})`."""

    def __init__(self, document: JsonObject, index: int) -> None:
        self.document = document
        self.prefix = f"/({index})"

    def fail(self, key: str, rule: str) -> Invalid:
        return Invalid([Violation(f"{self.prefix}/{key}", rule)])

    def text(self, key: str, *, optional: bool = False) -> str | None:
        value = self.document.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(key, "expected a string")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def moment(self, key: str = "at") -> datetime:
        try:
            return parse_timestamp(self.required_text(key))
        except ValueError as error:
            raise self.fail(key, "expected an ISO 8601 timestamp") from error

    def step(self) -> StepId:
        try:
            return parse_step_id(self.required_text("step"))
        except ValueError as error:
            raise self.fail("step", "expected a step id such as '2.1'") from error

    def mapping(self, key: str) -> dict[str, JsonValue]:
        value = self.document.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(key, "expected an object")
        return value

    def integer(self, key: str) -> int:
        value = self.document.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, "expected an integer of 1 or more")
        return value


def _read_structure(reader: _Reader) -> tuple[tuple[StepId, str], ...]:
    raw = reader.document.get("structure") or []
    if not isinstance(raw, list):
        raise reader.fail("structure", "expected a list of [step, name] pairs")
    structure = []
    for item in raw:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(i, str) for i in item)
        ):
            raise reader.fail("structure", "expected a list of [step, name] pairs")
        try:
            structure.append((parse_step_id(str(item[0])), str(item[1])))
        except ValueError as error:
            raise reader.fail("structure", f"not a step id: {item[0]!r}") from error
    return tuple(structure)


def _read_lines(reader: _Reader) -> tuple[tuple[datetime, str], ...]:
    raw = reader.document.get("lines")
    if not isinstance(raw, list):
        raise reader.fail("lines", "expected a list of [timestamp, text] pairs")
    lines = []
    for item in raw:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(i, str) for i in item)
        ):
            raise reader.fail("lines", "expected a list of [timestamp, text] pairs")
        try:
            lines.append((parse_timestamp(str(item[0])), str(item[1])))
        except ValueError as error:
            raise reader.fail("lines", "expected ISO 8601 timestamps") from error
    return tuple(lines)


def _read_finished(reader: _Reader) -> StepFinished:
    try:
        status = StepStatus(reader.required_text("status"))
    except ValueError as error:
        raise reader.fail("status", "expected a step status") from error
    details = reader.document.get("details") or []
    if not isinstance(details, list):
        raise reader.fail("details", "expected a list")
    released = reader.document.get("releasedParameters")
    return StepFinished(
        step=reader.step(),
        status=status,
        at=reader.moment(),
        details=tuple(detail_from_json(d) for d in details),
        values=reader.mapping("values"),
        message=reader.text("message", optional=True),
        reused=reader.document.get("reused") is True,
        released_by=reader.text("releasedBy", optional=True),
        released_parameters=released if isinstance(released, dict) else None,
    )


def _read_report(reader: _Reader) -> Report:
    kind = reader.required_text("type")
    if kind == "build-started":
        return BuildStarted(
            at=reader.moment(),
            commit=reader.text("commit", optional=True),
            pipeline_file_digest=reader.required_text("pipelineFileDigest"),
            structure=_read_structure(reader),
        )
    if kind == "step-started":
        return StepStarted(
            step=reader.step(), name=reader.required_text("name"), at=reader.moment()
        )
    if kind == "step-waiting":
        return StepWaiting(
            step=reader.step(),
            at=reader.moment(),
            prompt=reader.required_text("prompt"),
            parameters=reader.mapping("parameters"),
        )
    if kind == "step-output":
        return StepOutput(
            step=reader.step(), first_seq=reader.integer("firstSeq"), lines=_read_lines(reader)
        )
    if kind == "step-finished":
        return _read_finished(reader)
    if kind == "build-finished":
        try:
            status = BuildStatus(reader.required_text("status"))
        except ValueError as error:
            raise reader.fail("status", "expected a build status") from error
        return BuildFinished(
            status=status,
            at=reader.moment(),
            message=reader.text("message", optional=True),
            failed_steps=_read_step_ids(reader, "failedSteps"),
        )
    raise reader.fail("type", f"unknown report type {kind!r}")


def _read_step_ids(reader: _Reader, field: str) -> tuple[StepId, ...]:
    raw = reader.document.get(field) or []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise reader.fail(field, "expected a list of step ids")
    try:
        return tuple(parse_step_id(str(item)) for item in raw)
    except ValueError as error:
        raise reader.fail(field, "expected step ids such as '3' or '2.1'") from error


def reports_from_json(document: JsonValue) -> list[NumberedReport]:
    """Read a batch of reports; Invalid names the first report and field that is wrong."""
    if not isinstance(document, list):
        raise Invalid([Violation("/", "expected a JSON list of reports")])
    reports = []
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise Invalid([Violation(f"/({index})", "expected a report object")])
        reader = _Reader(item, index)
        reports.append(NumberedReport(seq=reader.integer("seq"), report=_read_report(reader)))
    return reports


def command_to_json(command: Command) -> JsonObject:
    if isinstance(command, ReleaseStep):
        return {
            "type": "release",
            "step": format_step_id(command.step),
            "by": command.by,
            "parameters": dict(command.parameters),
        }
    if isinstance(command, KillStep):
        return {"type": "kill-step", "step": format_step_id(command.step)}
    return {"type": "kill", "reason": command.reason}


def commands_from_json(documents: Sequence[JsonValue]) -> list[Command]:
    """The worker's side: commands from the server's answer (unknown kinds are skipped, so an
    older worker keeps working against a newer server)."""
    commands: list[Command] = []
    for document in documents:
        if not isinstance(document, dict):
            continue
        kind, step = document.get("type"), document.get("step")
        if kind == "release" and isinstance(step, str):
            parameters = document.get("parameters")
            commands.append(
                ReleaseStep(
                    step=parse_step_id(step),
                    by=str(document.get("by") or "someone"),
                    parameters=parameters if isinstance(parameters, dict) else {},
                )
            )
        elif kind == "kill-step" and isinstance(step, str):
            commands.append(KillStep(step=parse_step_id(step)))
        elif kind == "kill":
            commands.append(KillBuild(reason=str(document.get("reason") or "killed")))
    return commands
