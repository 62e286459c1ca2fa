"""Small pipelines, builds, steps and output lines for the store tests of pipelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.domain.builds import (
    Build,
    BuildStatus,
    OutputLine,
    StepId,
    StepRecord,
    StepStatus,
    Trigger,
    TriggerKind,
)
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.store.sql import SqlStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pipeline(name: str = "web") -> PipelineDefinition:
    return PipelineDefinition(name=name, repository=f"https://git.example.org/{name}.git")


def build(
    number: int,
    *,
    pipeline: str = "web",
    status: BuildStatus = BuildStatus.SUCCESS,
    created: float | None = None,
    finished: float | None = None,
) -> Build:
    """Build `number`, created at T0 + `number` seconds unless told; a finished one finishes a
    second after it was created unless told."""
    created_at = at(number if created is None else created)
    finished_at = None
    if status.is_final:
        finished_at = created_at + timedelta(seconds=1) if finished is None else at(finished)
    return Build(
        pipeline=pipeline,
        number=number,
        status=status,
        trigger=Trigger(TriggerKind.MANUAL, by="ada"),
        created_at=created_at,
        started_at=created_at if status is not BuildStatus.QUEUED else None,
        finished_at=finished_at,
    )


def step(
    step_id: StepId, *, number: int = 1, pipeline: str = "web", name: str | None = None
) -> StepRecord:
    return StepRecord(
        pipeline=pipeline,
        build=number,
        step=step_id,
        name=name or "step " + ".".join(map(str, step_id)),
        status=StepStatus.SUCCESS,
    )


def lines(first: int, last: int, *, prefix: str = "line") -> list[OutputLine]:
    """Lines numbered `first` to `last` (inclusive)."""
    return [OutputLine(seq, at(seq), f"{prefix} {seq}") for seq in range(first, last + 1)]


def store_builds(store: SqlStore, *builds: Build) -> None:
    """Register the builds' pipelines and store the builds, in one transaction."""
    with store.transaction() as tx:
        for name in sorted({each.pipeline for each in builds}):
            if tx.get_pipeline(name) is None:
                tx.put_pipeline(pipeline(name))
        for each in builds:
            tx.put_build(each)
