"""The native API's JSON shapes for pipelines and builds (pydantic, so OpenAPI documents them).
Field names are camelCase on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from conveyor.domain.build_reports import detail_to_json
from conveyor.domain.builds import Build, StepRecord, format_step_id
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonValue
from conveyor.domain.pipelines import DEFAULT_PIPELINE_FILE, PipelineDefinition, Retention


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RetentionModel(Model):
    keep_builds: int | None = Field(
        default=500, description="Newest finished builds kept (null: all)."
    )
    keep_days: int | None = Field(default=None, description="Finished builds older than this go.")


class PipelineIn(Model):
    name: str = Field(description="1-63 lowercase letters, digits and '-'.")
    repository: str = Field(description="A git URL or a local directory path.")
    branch: str = "main"
    file: str = Field(
        default=DEFAULT_PIPELINE_FILE, description="The pipeline module in the repository."
    )
    secret: str | None = Field(
        default=None, description="Verifies webhook signatures for this pipeline."
    )
    poll_seconds: int | None = Field(default=60, description="Poll for new commits (null: never).")
    max_concurrent_builds: int = 1
    build_timeout_seconds: int | None = None
    retention: RetentionModel = RetentionModel()

    def definition(self, created_at: datetime) -> PipelineDefinition:
        return PipelineDefinition(
            name=self.name,
            repository=self.repository,
            branch=self.branch,
            file=self.file,
            secret=self.secret,
            poll_seconds=self.poll_seconds,
            max_concurrent_builds=self.max_concurrent_builds,
            build_timeout_seconds=self.build_timeout_seconds,
            retention=Retention(self.retention.keep_builds, self.retention.keep_days),
            created_at=created_at,
        )


class TriggerModel(Model):
    kind: str
    by: str
    commit: str | None
    ref: str | None
    parameters: dict[str, Any]


class BuildSummary(Model):
    pipeline: str
    number: int
    status: str
    trigger: TriggerModel
    commit: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    retriggered_from: dict[str, Any] | None = Field(
        description="{number, step} of the build this one was retriggered from."
    )
    pipeline_file_changed: bool | None = Field(
        description="Retriggered builds: does the pipeline file differ from the original's?"
    )
    message: str | None
    failed_steps: list[str] = Field(
        default_factory=list,
        description="The steps whose failure failed the build (not a failure a junction "
        "handled), in step order; empty unless the build failed.",
    )


class ManualModel(Model):
    prompt: str
    parameters: dict[str, Any]
    released_by: str | None
    released_parameters: dict[str, Any] | None
    released_at: str | None


class StepModel(Model):
    id: str
    name: str
    status: str
    started_at: str | None
    finished_at: str | None
    reused: bool
    message: str | None
    details: list[dict[str, Any]]
    manual: ManualModel | None
    children: list[StepModel]


class BuildDetail(BuildSummary):
    steps: list[StepModel]


class PollingError(Model):
    at: str
    message: str


class PipelineOut(Model):
    name: str
    repository: str
    branch: str
    file: str
    has_secret: bool
    poll_seconds: int | None
    max_concurrent_builds: int
    build_timeout_seconds: int | None
    retention: RetentionModel
    last_build: BuildSummary | None
    polling_error: PollingError | None = Field(
        default=None,
        description="Why the last poll of the repository failed; null while polling works.",
    )


class BuildPage(Model):
    builds: list[BuildSummary]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class TriggerIn(Model):
    parameters: dict[str, Any] = {}
    commit: str | None = Field(
        None, description="Default: the branch's head when the build starts."
    )
    by: str = "api"


class RetriggerIn(Model):
    step: str = Field(description="The step to start from, e.g. '3' or '2.1'.")
    by: str = "api"


class ReleaseIn(Model):
    parameters: dict[str, Any] = {}
    by: str = Field(description="Who releases the step (recorded).")


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def build_summary(build: Build) -> BuildSummary:
    trigger = build.trigger
    return BuildSummary(
        pipeline=build.pipeline,
        number=build.number,
        status=build.status.value,
        trigger=TriggerModel(
            kind=trigger.kind.value,
            by=trigger.by,
            commit=trigger.commit,
            ref=trigger.ref,
            parameters=dict(trigger.parameters),
        ),
        commit=build.commit,
        created_at=format_timestamp(build.created_at),
        started_at=_stamp(build.started_at),
        finished_at=_stamp(build.finished_at),
        duration_seconds=build.duration_seconds,
        retriggered_from=None
        if build.retriggered is None
        else {"number": build.retriggered.number, "step": format_step_id(build.retriggered.step)},
        pipeline_file_changed=build.pipeline_file_changed,
        message=build.message,
        failed_steps=[format_step_id(step) for step in build.failed_steps],
    )


def _step_model(record: StepRecord) -> StepModel:
    manual = record.manual
    return StepModel(
        id=format_step_id(record.step),
        name=record.name,
        status=record.status.value,
        started_at=_stamp(record.started_at),
        finished_at=_stamp(record.finished_at),
        reused=record.reused,
        message=record.message,
        details=[detail_to_json(d) for d in record.details],
        manual=None
        if manual is None
        else ManualModel(
            prompt=manual.prompt,
            parameters=dict(manual.parameters),
            released_by=manual.released_by,
            released_parameters=None
            if manual.released_parameters is None
            else dict(manual.released_parameters),
            released_at=_stamp(manual.released_at),
        ),
        children=[],
    )


def step_tree(records: list[StepRecord]) -> list[StepModel]:
    """Steps nested under their parents (a step's parent is its id without the last part)."""
    models = {record.step: _step_model(record) for record in records}
    roots: list[StepModel] = []
    for step, model in models.items():
        parent = models.get(step[:-1])
        (parent.children if parent is not None else roots).append(model)
    return roots


def build_detail(build: Build, steps: list[StepRecord]) -> BuildDetail:
    return BuildDetail(**build_summary(build).model_dump(), steps=step_tree(steps))


def polling_error(stored: JsonValue) -> PollingError | None:
    """The polling error the git watcher stored (`polling_error_key`), if any."""
    if not isinstance(stored, dict):
        return None
    at, message = stored.get("at"), stored.get("message")
    if not isinstance(at, str) or not isinstance(message, str):
        return None
    return PollingError(at=at, message=message)


def pipeline_out(
    pipeline: PipelineDefinition, last: Build | None, *, error: PollingError | None = None
) -> PipelineOut:
    return PipelineOut(
        name=pipeline.name,
        repository=pipeline.repository,
        branch=pipeline.branch,
        file=pipeline.file,
        has_secret=pipeline.secret is not None,
        poll_seconds=pipeline.poll_seconds,
        max_concurrent_builds=pipeline.max_concurrent_builds,
        build_timeout_seconds=pipeline.build_timeout_seconds,
        retention=RetentionModel(
            keep_builds=pipeline.retention.keep_builds, keep_days=pipeline.retention.keep_days
        ),
        last_build=None if last is None else build_summary(last),
        polling_error=error,
    )
