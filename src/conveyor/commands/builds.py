"""Commands on builds that change desired state: queue a build (from a push, a poll, a person or
a retrigger) and queue commands for a running build's worker. Controllers carry them out."""

from __future__ import annotations

from datetime import datetime

from conveyor.domain.build_reports import Command, command_to_json
from conveyor.domain.builds import (
    Build,
    BuildStatus,
    Retriggered,
    Trigger,
    TriggerKind,
    pending_commands_key,
)
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.domain.webhooks import seen_commit_key
from conveyor.store import Transaction

RECENT_BUILDS_CHECKED = 50


def _already_built(tx: Transaction, pipeline: str, commit: str) -> bool:
    """Does one of the pipeline's recent builds have `commit`, however it was triggered (by a
    person too: its commit is known once its worker has checked it out)?"""
    recent = tx.list_builds(pipeline, limit=RECENT_BUILDS_CHECKED)
    return any(commit in (build.commit, build.trigger.commit) for build in recent)


def request_build(
    tx: Transaction,
    pipeline: PipelineDefinition,
    *,
    trigger: Trigger,
    now: datetime,
    retriggered: Retriggered | None = None,
) -> Build | None:
    """Queue a build. A commit reported by a webhook or the poller is built once: None when it
    was already seen for this pipeline and branch (the last seen commit is persisted, so a
    restarted server starts no duplicate) or a recent build has it, whoever asked for it."""
    if trigger.commit is not None and trigger.kind in (TriggerKind.WEBHOOK, TriggerKind.POLL):
        key = seen_commit_key(pipeline.name, pipeline.branch)
        if tx.get_value(key) == trigger.commit or _already_built(tx, pipeline.name, trigger.commit):
            return None
        tx.put_value(key, trigger.commit)
    build = Build(
        pipeline=pipeline.name,
        number=tx.next_build_number(pipeline.name),
        status=BuildStatus.QUEUED,
        trigger=trigger,
        created_at=now,
        commit=trigger.commit,
        retriggered=retriggered,
    )
    tx.put_build(build)
    return build


def add_command(tx: Transaction, build: Build, command: Command) -> None:
    """Queue a command for the build's worker; it goes out with every answer to the worker's
    reports until it no longer applies."""
    key = pending_commands_key(build.pipeline, build.number)
    stored = tx.get_value(key)
    documents = list(stored) if isinstance(stored, list) else []
    documents.append(command_to_json(command))
    tx.put_value(key, documents)
