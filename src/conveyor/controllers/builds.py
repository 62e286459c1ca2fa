"""The build runner (Pipeline-Spawner): starts each queued build in a fresh worker process
through the engine — at most `max_concurrent_builds` per pipeline, oldest first — and ends the
builds whose worker is gone. No process stays alive per pipeline between builds.

A build's directory is `<data-dir>/builds/<pipeline>/<number>/`: `build.json` (the order),
`reports.jsonl` (the worker's spool), `source/` (the pipeline's code at the build's commit) and,
unless retriggered, `workspace/`. A retriggered build works in its original's workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import sys
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from conveyor.controllers.build_reports import BuildReports, is_killing
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.build_orders import BuildOrder, RecordedStep, order_to_json
from conveyor.domain.build_progress import end_unfinished_steps
from conveyor.domain.build_reports import BuildFinished
from conveyor.domain.builds import (
    Build,
    BuildStatus,
    StepId,
    StepStatus,
    build_keys,
    build_task_id,
    worker_handle_key,
)
from conveyor.domain.clock import Clock
from conveyor.domain.errors import ConveyorError
from conveyor.domain.instances import ResourceLimits
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.engines import Engine, LaunchSpec, TaskExit, TaskHandle
from conveyor.store import Store, Transaction

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 10.0
"""How long a worker gets to end its steps after a kill before its process tree is killed."""
PRUNE_EVERY_SECONDS = 60.0


class BuildRunner:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        clock: Clock,
        wakeup: Wakeup,
        *,
        data_dir: Path,
        server_url: str,
        python: str = sys.executable,
    ) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._wakeup = wakeup
        self._builds_dir = data_dir / "builds"
        self._server_url = server_url
        self._python = python
        self.reports = BuildReports(store, clock)
        self._kills_sent: set[str] = set()
        self._last_prune = 0.0

    def build_dir(self, pipeline: str, number: int) -> Path:
        return self._builds_dir / pipeline / str(number)

    async def run(self) -> None:
        await self.reattach()
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("build reconcile failed; retrying")
            await self._wakeup.wait(1.0)

    async def reattach(self) -> None:
        """Adopt the workers of an earlier server; end the builds whose worker is gone."""
        with self._store.transaction() as tx:
            builds = [b for b in tx.list_unfinished_builds() if b.task_id is not None]
            handles = {b.task_id: self._handle(tx, b) for b in builds}
        live = [handle for handle in handles.values() if handle is not None]
        ended = {end.task_id: end for end in await self._engine.reattach(live)}
        for build in builds:
            if handles[build.task_id] is None or build.task_id in ended:
                end = ended.get(str(build.task_id))
                self.worker_ended(build, end.exit_code if end else None)

    def _handle(self, tx: Transaction, build: Build) -> TaskHandle | None:
        recorded = tx.get_value(worker_handle_key(build.pipeline, build.number))
        if not isinstance(recorded, dict) or build.task_id is None:
            return None
        pid, start = recorded.get("pid"), recorded.get("startTime")
        if not isinstance(pid, int) or not isinstance(start, int | float):
            return None
        return TaskHandle(
            task_id=build.task_id,
            pid=pid,
            pid_start_time=float(start),
            host="",
            ports=(),
            started_at=build.started_at or build.created_at,
            limits=ResourceLimits(method="none"),
        )

    def on_task_exit(self, end: TaskExit) -> None:
        """A worker process ended (the engine's report)."""
        with self._store.transaction() as tx:
            build = next((b for b in tx.list_unfinished_builds() if b.task_id == end.task_id), None)
        if build is not None:
            self.worker_ended(build, end.exit_code)
        self._wakeup.ring()

    def worker_ended(self, build: Build, exit_code: int | None) -> None:
        """Take in what the worker spooled but did not ship; if the build still has no end,
        the worker died: the build fails with the reason and its running steps are dead."""
        self.reports.catch_up_from_spool(
            build, self.build_dir(build.pipeline, build.number) / "reports.jsonl"
        )
        now = self._clock.now()
        with self._store.transaction() as tx:
            current = tx.get_build(build.pipeline, build.number)
            if current is None or current.status.is_final:
                return
            killed = is_killing(tx, current)
            reason = "killed" if killed else _death_reason(exit_code)
            step_status = StepStatus.KILLED if killed else StepStatus.DEAD
            build_status = BuildStatus.KILLED if killed else BuildStatus.FAILURE
            known = {record.step: record for record in tx.list_steps(build.pipeline, build.number)}
            end = BuildFinished(build_status, now, message=reason)
            ended = end_unfinished_steps(known, step_status, end)
            for record in ended.values():
                tx.put_step(record)
            dead = [step for step, record in ended.items() if record.status is step_status]
            failed = () if killed else _innermost(dead)
            tx.put_build(
                replace(
                    current,
                    status=build_status,
                    finished_at=now,
                    message=reason,
                    failed_steps=failed,
                )
            )
        log.info("build %s #%s ended: %s", build.pipeline, build.number, reason)

    async def reconcile(self) -> None:
        with self._store.transaction() as tx:
            pipelines = {p.name: p for p in tx.list_pipelines()}
            unfinished = tx.list_unfinished_builds()
            killing = {str(b.task_id) for b in unfinished if b.task_id and is_killing(tx, b)}
        by_pipeline: dict[str, list[Build]] = defaultdict(list)
        for build in unfinished:
            by_pipeline[build.pipeline].append(build)
        for name, builds in by_pipeline.items():
            pipeline = pipelines.get(name)
            if pipeline is not None:
                await self._start_queued(pipeline, builds)
        await self._enforce_kills(unfinished, killing)
        self._prune(list(pipelines.values()))

    async def _start_queued(self, pipeline: PipelineDefinition, builds: list[Build]) -> None:
        active = sum(b.status is not BuildStatus.QUEUED for b in builds)
        for build in sorted(builds, key=lambda b: b.number):
            if active >= pipeline.max_concurrent_builds:
                return
            if build.status is BuildStatus.QUEUED:
                await self._start(pipeline, build)
                active += 1

    async def _start(self, pipeline: PipelineDefinition, build: Build) -> None:
        directory = self.build_dir(pipeline.name, build.number)
        directory.mkdir(parents=True, exist_ok=True)
        order = self._order(pipeline, build, directory)
        (directory / "build.json").write_text(order_to_json(order))
        started = replace(
            build,
            status=BuildStatus.RUNNING,
            started_at=self._clock.now(),
            task_id=build_task_id(pipeline.name, build.number),
            workspace=order.workspace,
            worker_token=order.token,
            # a retriggered build starts with its original's digest; its worker's BuildStarted
            # then tells whether the pipeline file changed (see domain.build_progress)
            pipeline_file_digest=order.original_digest,
        )
        with self._store.transaction() as tx:
            tx.put_build(started)
        spec = LaunchSpec(
            task_id=str(started.task_id),
            argv=(self._python, "-m", "conveyor.pipelines.worker", str(directory)),
            env={"CONVEYOR_SERVER": self._server_url},
            workdir=str(directory),
        )
        try:
            handle = await self._engine.launch(spec)
        except ConveyorError as error:
            self._fail_to_start(started, error.message)
            return
        with self._store.transaction() as tx:
            tx.put_value(
                worker_handle_key(pipeline.name, build.number),
                {"pid": handle.pid, "startTime": handle.pid_start_time},
            )
        log.info("build %s #%s started (worker pid %s)", pipeline.name, build.number, handle.pid)

    def _fail_to_start(self, build: Build, reason: str) -> None:
        with self._store.transaction() as tx:
            message = f"the worker could not start: {reason}"
            tx.put_build(
                replace(
                    build,
                    status=BuildStatus.FAILURE,
                    finished_at=self._clock.now(),
                    message=message,
                )
            )

    def _order(self, pipeline: PipelineDefinition, build: Build, directory: Path) -> BuildOrder:
        workspace = str(directory / "workspace")
        recorded: tuple[RecordedStep, ...] = ()
        original_digest = None
        if build.retriggered is not None:
            with self._store.transaction() as tx:
                original = tx.get_build(pipeline.name, build.retriggered.number)
                steps = tx.list_steps(pipeline.name, build.retriggered.number)
            if original is not None:
                workspace = original.workspace or workspace
                original_digest = original.pipeline_file_digest
            recorded = tuple(
                RecordedStep(step=s.step, name=s.name, status=s.status, values=s.values)
                for s in steps
                if s.status.is_final
            )
        return BuildOrder(
            pipeline=pipeline.name,
            number=build.number,
            repository=pipeline.repository,
            branch=pipeline.branch,
            file=pipeline.file,
            commit=build.commit,
            workspace=workspace,
            server=self._server_url,
            token=secrets.token_urlsafe(24),
            parameters=dict(build.trigger.parameters),
            retrigger_from=build.retriggered.step if build.retriggered else None,
            recorded=recorded,
            original_digest=original_digest,
            timeout_seconds=pipeline.build_timeout_seconds,
        )

    async def _enforce_kills(self, builds: list[Build], killing: set[str]) -> None:
        """A worker asked to kill its build gets KILL_GRACE_SECONDS; then its tree is killed."""
        for build in builds:
            if build.task_id not in killing or build.task_id in self._kills_sent:
                continue
            self._kills_sent.add(str(build.task_id))
            asyncio.get_running_loop().call_later(
                KILL_GRACE_SECONDS, self._kill_worker, str(build.task_id)
            )

    def _kill_worker(self, task_id: str) -> None:
        async def kill() -> None:
            with contextlib.suppress(ConveyorError):
                await self._engine.kill(task_id, grace_seconds=3.0)

        asyncio.get_running_loop().create_task(kill())

    def _prune(self, pipelines: list[PipelineDefinition]) -> None:
        now = self._clock.monotonic()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        for pipeline in pipelines:
            keep = pipeline.retention
            before = None
            if keep.keep_days is not None:
                before = self._clock.now() - timedelta(days=keep.keep_days)
            with self._store.transaction() as tx:
                pruned = tx.prune_builds(
                    pipeline.name, keep=keep.keep_builds, finished_before=before
                )
                tx.delete_values(*(k for n in pruned for k in build_keys(pipeline.name, n)))
            for number in pruned:
                shutil.rmtree(self.build_dir(pipeline.name, number), ignore_errors=True)


def _innermost(steps: list[StepId]) -> tuple[StepId, ...]:
    """The steps none of the others is inside of."""
    return tuple(s for s in steps if not any(o[: len(s)] == s and o != s for o in steps))


def _death_reason(exit_code: int | None) -> str:
    if exit_code is None:
        return "the build's worker vanished (the machine restarted or its process was lost)"
    if exit_code < 0:
        return f"the build's worker was killed by signal {-exit_code}"
    return f"the build's worker exited with status {exit_code} before the build ended"
