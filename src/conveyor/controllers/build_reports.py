"""Taking in a build worker's reports: each numbered report is applied once and in order, and
the answer carries the commands still waiting for the worker. Used by the reports endpoint (through
the api's Control) and by the build runner when it reads a spool a worker left behind."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from conveyor.domain.build_progress import apply_report
from conveyor.domain.build_reports import (
    Command,
    KillBuild,
    KillStep,
    NumberedReport,
    ReleaseStep,
    command_to_json,
    commands_from_json,
    reports_from_json,
)
from conveyor.domain.builds import Build, StepId, StepRecord, pending_commands_key
from conveyor.domain.clock import Clock
from conveyor.domain.errors import Invalid, NotFound
from conveyor.store import Store, Transaction

log = logging.getLogger(__name__)


def _is_obsolete(command: Command, build: Build, steps: dict[StepId, StepRecord]) -> bool:
    if build.status.is_final:
        return True
    if isinstance(command, ReleaseStep):
        record = steps.get(command.step)
        return record is not None and record.status.is_final
    if isinstance(command, KillStep):
        record = steps.get(command.step)
        return record is not None and record.status.is_final
    return False


class BuildReports:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def ingest(
        self, pipeline: str, number: int, reports: Sequence[NumberedReport]
    ) -> tuple[int, list[Command]]:
        """Apply the reports not yet applied; returns the last applied number and the commands
        for the worker. A gap in the numbering stops at the gap (the worker resends)."""
        with self._store.transaction() as tx:
            build = tx.get_build(pipeline, number)
            if build is None:
                raise NotFound(f"Build {pipeline} #{number} does not exist")
            steps = {record.step: record for record in tx.list_steps(pipeline, number)}
            build = self._apply(tx, build, steps, reports)
            tx.put_build(build)
            return build.reports_applied, self._commands(tx, build, steps)

    def _apply(
        self,
        tx: Transaction,
        build: Build,
        steps: dict[StepId, StepRecord],
        reports: Sequence[NumberedReport],
    ) -> Build:
        for numbered in sorted(reports, key=lambda r: r.seq):
            if numbered.seq <= build.reports_applied:
                continue
            if numbered.seq != build.reports_applied + 1:
                break
            progress = apply_report(build, steps, numbered.report)
            for record in progress.steps.values():
                tx.put_step(record)
                steps[record.step] = record
            for step, lines in progress.output:
                tx.append_output(build.pipeline, build.number, step, lines)
            build = replace(progress.build, reports_applied=numbered.seq)
        return build

    def _commands(
        self, tx: Transaction, build: Build, steps: dict[StepId, StepRecord]
    ) -> list[Command]:
        key = pending_commands_key(build.pipeline, build.number)
        stored = tx.get_value(key)
        commands = commands_from_json(stored if isinstance(stored, list) else [])
        current = [c for c in commands if not _is_obsolete(c, build, steps)]
        if len(current) != len(commands):
            tx.put_value(key, [command_to_json(c) for c in current] or None)
        return current

    def catch_up_from_spool(self, build: Build, spool: Path) -> None:
        """Apply what a worker spooled but never shipped (the server was away when it ended)."""
        if not spool.exists():
            return
        pending: list[NumberedReport] = []
        with spool.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                    if document.get("seq", 0) > build.reports_applied:
                        pending.extend(reports_from_json([document]))
                except (ValueError, Invalid) as error:
                    log.warning("skipping an unreadable spool line of %s: %s", spool, error)
                if len(pending) >= 500:
                    self.ingest(build.pipeline, build.number, pending)
                    pending = []
        if pending:
            self.ingest(build.pipeline, build.number, pending)


def is_killing(tx: Transaction, build: Build) -> bool:
    stored = tx.get_value(pending_commands_key(build.pipeline, build.number))
    commands = commands_from_json(stored if isinstance(stored, list) else [])
    return any(isinstance(c, KillBuild) for c in commands)
