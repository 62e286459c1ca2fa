"""Applying a worker's report to a build's stored state: pure, so the reports endpoint and the
catch-up from a spool file left behind by a worker do exactly the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from conveyor.domain.build_reports import (
    BuildFinished,
    BuildStarted,
    Report,
    StepFinished,
    StepOutput,
    StepStarted,
    StepWaiting,
)
from conveyor.domain.builds import (
    Build,
    BuildStatus,
    ManualTriggerInfo,
    OutputLine,
    StepId,
    StepRecord,
    StepStatus,
)


@dataclass
class Progress:
    """What one report changes: the build, the steps it touched, output lines to append."""

    build: Build
    steps: dict[StepId, StepRecord] = field(default_factory=dict)
    output: list[tuple[StepId, list[OutputLine]]] = field(default_factory=list)


def _step(build: Build, known: Mapping[StepId, StepRecord], step: StepId, name: str) -> StepRecord:
    return known.get(step) or StepRecord(
        pipeline=build.pipeline, build=build.number, step=step, name=name, status=StepStatus.PENDING
    )


def _started(build: Build, known: Mapping[StepId, StepRecord], report: BuildStarted) -> Progress:
    changed = None
    if build.pipeline_file_digest is not None and build.retriggered is not None:
        changed = build.pipeline_file_digest != report.pipeline_file_digest
    progress = Progress(
        replace(
            build,
            status=BuildStatus.RUNNING if build.status is BuildStatus.QUEUED else build.status,
            started_at=build.started_at or report.at,
            commit=report.commit or build.commit,
            pipeline_file_digest=report.pipeline_file_digest,
            pipeline_file_changed=changed,
        )
    )
    for step, name in report.structure:
        if step not in known:
            progress.steps[step] = _step(build, known, step, name)
    return progress


def _finished_step(
    build: Build, known: Mapping[StepId, StepRecord], report: StepFinished
) -> StepRecord:
    record = _step(build, known, report.step, "")
    manual = record.manual
    if manual is not None and report.released_by is not None:
        manual = replace(
            manual,
            released_by=report.released_by,
            released_parameters=report.released_parameters,
            released_at=report.at,
        )
    skipped = report.status is StepStatus.SKIPPED
    return replace(
        record,
        status=report.status,
        started_at=record.started_at or (None if skipped else report.at),
        finished_at=report.at,
        details=report.details,
        values=report.values,
        message=report.message,
        reused=report.reused,
        manual=manual,
    )


def _step_progress(build: Build, known: Mapping[StepId, StepRecord], report: Report) -> Progress:
    progress = Progress(build)
    if isinstance(report, StepStarted):
        record = _step(build, known, report.step, report.name)
        progress.steps[report.step] = replace(
            record, name=report.name, status=StepStatus.RUNNING, started_at=report.at
        )
    elif isinstance(report, StepWaiting):
        record = _step(build, known, report.step, "")
        manual = ManualTriggerInfo(prompt=report.prompt, parameters=report.parameters)
        progress.steps[report.step] = replace(record, status=StepStatus.WAITING, manual=manual)
    elif isinstance(report, StepFinished):
        progress.steps[report.step] = _finished_step(build, known, report)
    elif isinstance(report, StepOutput):
        lines = [
            OutputLine(seq=report.first_seq + offset, at=at, text=text)
            for offset, (at, text) in enumerate(report.lines)
        ]
        progress.output.append((report.step, lines))
    return progress


def _waiting_or_running(build: Build, steps: Mapping[StepId, StepRecord]) -> BuildStatus:
    if build.status.is_final:
        return build.status
    waiting = any(record.status is StepStatus.WAITING for record in steps.values())
    return BuildStatus.WAITING if waiting else BuildStatus.RUNNING


def apply_report(build: Build, known: Mapping[StepId, StepRecord], report: Report) -> Progress:
    """The change `report` makes to `build`, whose steps so far are `known`."""
    if isinstance(report, BuildStarted):
        return _started(build, known, report)
    if isinstance(report, BuildFinished):
        finished = replace(
            build,
            status=report.status,
            finished_at=report.at,
            message=report.message,
            failed_steps=report.failed_steps,
        )
        return Progress(finished, steps=end_unfinished_steps(known, StepStatus.KILLED, report))
    progress = _step_progress(build, known, report)
    merged = {**known, **progress.steps}
    progress.build = replace(build, status=_waiting_or_running(build, merged))
    return progress


def end_unfinished_steps(
    known: Mapping[StepId, StepRecord], status: StepStatus, report: BuildFinished
) -> dict[StepId, StepRecord]:
    """Steps still running or waiting when the build ended get `status`; pending ones never
    ran: they are skipped."""
    return {
        step: replace(record, status=status, finished_at=report.at, message=report.message)
        if record.status in (StepStatus.RUNNING, StepStatus.WAITING)
        else replace(record, status=StepStatus.SKIPPED)
        for step, record in known.items()
        if record.status in (StepStatus.RUNNING, StepStatus.WAITING, StepStatus.PENDING)
    }
