"""Pipelines, their builds, the builds' steps and the steps' output: the part of `SqlTransaction`
that keeps delivery pipelines (see `schema.py` for the tables).

Pipelines, builds and steps are rows holding a JSON document (`codecs.py`) and the columns they are
found and ordered by; an output line is a row of its own, with no document, because a build may
print millions of them. Builds are read newest first from the (pipeline, number) primary key, so a
page of history costs the same with 20 builds stored as with 100,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, delete, func, or_, select

from conveyor.domain.builds import Build, OutputLine, StepId, StepRecord
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.store import schema
from conveyor.store.codecs import Codec
from conveyor.store.schema import step_key, to_microseconds, to_utf8
from conveyor.store.statements import Statements

PIPELINE = Codec(PipelineDefinition)
BUILD = Codec(Build)
STEP = Codec(StepRecord)

_pipelines = schema.pipelines
_counters = schema.build_counters
_builds = schema.builds
_steps = schema.build_steps
_output = schema.step_output


def build_row(build: Build) -> dict[str, Any]:
    """The row of `schema.builds` that holds `build`."""
    return {
        "pipeline": build.pipeline,
        "number": build.number,
        "created_at": build.created_at,
        "ended_at": ended_at(build),
        "document": BUILD.dumps(build),
    }


def ended_at(build: Build) -> datetime | None:
    """When a finished build ended: its finish, else its creation (a build killed while queued
    never started or finished); None while it is unfinished."""
    if not build.status.is_final:
        return None
    return build.finished_at or build.created_at


OUTPUT_COLUMNS = ("pipeline", "number", "step_key", "seq", "at", "text")


def output_parameters(
    pipeline: str, number: int, step: str, line: OutputLine
) -> tuple[str, int, str, int, int, bytes]:
    """The values of `OUTPUT_COLUMNS` that store `line` of the step keyed `step`, as the
    driver takes them (what `schema.step_output`'s column types would make of them)."""
    return (pipeline, number, step, line.seq, to_microseconds(line.at), to_utf8(line.text))


def insert_output_statement(paramstyle: str) -> str:
    """The driver's INSERT of one output line, which leaves a line already stored alone.
    Written out rather than built from `schema.step_output`, and run with tuples of
    `output_parameters`: SQLAlchemy's per-row parameter processing would make appending output
    between two and three times as slow, and a build may print millions of lines."""
    mark = "?" if paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {_output.name} ({', '.join(OUTPUT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(OUTPUT_COLUMNS))}) ON CONFLICT DO NOTHING"
    )


# Statements built once (see `statements.py`).
_PIPELINES = select(_pipelines.c.document).order_by(_pipelines.c.name)
_HIGHEST_NUMBER = select(func.max(_builds.c.number)).where(
    _builds.c.pipeline == bindparam("pipeline")
)
_BUILD = select(_builds.c.document).where(
    _builds.c.pipeline == bindparam("pipeline"), _builds.c.number == bindparam("number")
)
_NEWEST_BUILDS = (
    select(_builds.c.document)
    .where(_builds.c.pipeline == bindparam("pipeline"))
    .order_by(_builds.c.number.desc())
    .limit(bindparam("limit"))
)
_BUILDS_BEFORE = _NEWEST_BUILDS.where(_builds.c.number < bindparam("before"))
_UNFINISHED_BUILDS = (
    select(_builds.c.document)
    .where(_builds.c.ended_at.is_(None))
    .order_by(_builds.c.created_at, _builds.c.pipeline, _builds.c.number)
)
_STEP = select(_steps.c.document).where(
    _steps.c.pipeline == bindparam("pipeline"),
    _steps.c.number == bindparam("number"),
    _steps.c.step_key == bindparam("step_key"),
)
_STEPS = (
    select(_steps.c.document)
    .where(_steps.c.pipeline == bindparam("pipeline"), _steps.c.number == bindparam("number"))
    .order_by(_steps.c.step_key)
)
_OUTPUT_AFTER = (
    select(_output.c.seq, _output.c.at, _output.c.text)
    .where(
        _output.c.pipeline == bindparam("pipeline"),
        _output.c.number == bindparam("number"),
        _output.c.step_key == bindparam("step_key"),
        _output.c.seq > bindparam("after"),
    )
    .order_by(_output.c.seq)
    .limit(bindparam("limit"))
)


class BuildRecords(Statements):
    """Pipelines, builds, steps and output, for `SqlTransaction`."""

    # pipelines

    def get_pipeline(self, name: str) -> PipelineDefinition | None:
        document = self._value_of(_pipelines, "document", where="name", key=name)
        return None if document is None else PIPELINE.loads(document)

    def list_pipelines(self) -> list[PipelineDefinition]:
        documents = self._connection.execute(_PIPELINES).scalars()
        return [PIPELINE.loads(document) for document in documents]

    def put_pipeline(self, pipeline: PipelineDefinition) -> None:
        self._upsert(_pipelines, {"name": pipeline.name, "document": PIPELINE.dumps(pipeline)})

    def delete_pipeline(self, name: str) -> None:
        """Its builds, steps and output go with it (ON DELETE CASCADE); its build counter stays."""
        self._delete(_pipelines, "name", name)

    # builds

    def next_build_number(self, pipeline: str) -> int:
        """Counts on from the last number given, or from the highest build stored if that is
        higher (a build put with a number of its own); the count is kept in the transaction, so
        a rolled-back transaction gives its number again and a committed one never."""
        highest = self._scalar(_HIGHEST_NUMBER, {"pipeline": pipeline})
        floor = int(highest or 0)
        statement = self._insert(_counters).values(pipeline=pipeline, last_number=floor + 1)
        statement = statement.on_conflict_do_update(
            index_elements=[_counters.c.pipeline],
            set_={
                "last_number": case(
                    (_counters.c.last_number > floor, _counters.c.last_number + 1),
                    else_=floor + 1,
                )
            },
        )
        number: int = self._connection.execute(
            statement.returning(_counters.c.last_number)
        ).scalar_one()
        return number

    def put_build(self, build: Build) -> None:
        """The build's pipeline must be stored (the database refuses an orphan build)."""
        self._upsert(_builds, build_row(build))

    def get_build(self, pipeline: str, number: int) -> Build | None:
        document = self._scalar(_BUILD, {"pipeline": pipeline, "number": number})
        return None if document is None else BUILD.loads(document)

    def list_builds(
        self, pipeline: str, *, before: int | None = None, limit: int = 50
    ) -> list[Build]:
        parameters = {"pipeline": pipeline, "limit": limit}
        if before is None:
            query = _NEWEST_BUILDS
        else:
            query, parameters = _BUILDS_BEFORE, {**parameters, "before": before}
        documents = self._connection.execute(query, parameters).scalars()
        return [BUILD.loads(document) for document in documents]

    def list_unfinished_builds(self) -> list[Build]:
        """Oldest first by creation, then by pipeline and number."""
        documents = self._connection.execute(_UNFINISHED_BUILDS).scalars()
        return [BUILD.loads(document) for document in documents]

    def prune_builds(
        self, pipeline: str, *, keep: int | None, finished_before: datetime | None
    ) -> list[int]:
        """`keep` counts finished builds (Retention's `keep_builds`); a finished build's age is
        its `ended_at` (see `ended_at`). Returns the numbers deleted, lowest first."""
        finished = and_(_builds.c.pipeline == pipeline, _builds.c.ended_at.is_not(None))
        beyond = _beyond_keep(finished, keep) if keep is not None else None
        too_old = _builds.c.ended_at < finished_before if finished_before is not None else None
        doomed = [condition for condition in (beyond, too_old) if condition is not None]
        if not doomed:
            return []
        statement = delete(_builds).where(finished, or_(*doomed)).returning(_builds.c.number)
        return sorted(self._connection.execute(statement).scalars())

    # steps

    def put_step(self, step: StepRecord) -> None:
        row = {
            "pipeline": step.pipeline,
            "number": step.build,
            "step_key": step_key(step.step),
            "document": STEP.dumps(step),
        }
        self._upsert(_steps, row)

    def get_step(self, pipeline: str, number: int, step: StepId) -> StepRecord | None:
        parameters = {"pipeline": pipeline, "number": number, "step_key": step_key(step)}
        document = self._scalar(_STEP, parameters)
        return None if document is None else STEP.loads(document)

    def list_steps(self, pipeline: str, number: int) -> list[StepRecord]:
        documents = self._connection.execute(_STEPS, {"pipeline": pipeline, "number": number})
        return [STEP.loads(document) for document in documents.scalars()]

    # output

    def append_output(
        self, pipeline: str, number: int, step: StepId, lines: Sequence[OutputLine]
    ) -> None:
        """One driver `executemany` per call; lines already stored (by `seq`) are left as they
        are. Output times read back in UTC (the same instants)."""
        if not lines:
            return
        key = step_key(step)
        rows = [output_parameters(pipeline, number, key, line) for line in lines]
        statement = insert_output_statement(self._connection.dialect.paramstyle)
        self._connection.exec_driver_sql(statement, rows)

    def list_output(
        self, pipeline: str, number: int, step: StepId, *, after: int = 0, limit: int = 1000
    ) -> list[OutputLine]:
        parameters = {
            "pipeline": pipeline,
            "number": number,
            "step_key": step_key(step),
            "after": after,
            "limit": limit,
        }
        rows = self._connection.execute(_OUTPUT_AFTER, parameters)
        return [OutputLine(seq, at, text) for seq, at, text in rows]


def _beyond_keep(finished: ColumnElement[bool], keep: int) -> ColumnElement[bool]:
    """The finished builds older than the newest `keep` finished ones."""
    if keep < 1:
        return finished
    oldest_kept = (
        select(_builds.c.number)
        .where(finished)
        .order_by(_builds.c.number.desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    return _builds.c.number < oldest_kept
