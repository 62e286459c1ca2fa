"""The git watcher: polls each pipeline's branch for new commits, the fallback when no webhook
arrives and the catch-up after a restart.

A pipeline with polling on is checked when the watcher starts (or the pipeline is added) and
then every `poll_seconds`; a pipeline with polling off (`poll_seconds` None) is never checked:
only webhooks and people start its builds. A check asks the repository for the branch's head
(`git ls-remote`). Registering a pipeline builds nothing: the API records a local repository's
head as seen when the pipeline is added; otherwise the first check of a pipeline that has seen
no commit yet records the head — or, when the pipeline already has a build (asked for by hand
before that check), takes the newest build's commit as the last seen. Later,
when the head differs from the last commit seen for the pipeline's branch (the store value
`seen_commit_key`, shared with the webhook route), it fetches the branch into a bare mirror under
`<data_dir>/git-mirrors/` and requests a build of each commit since the seen one, oldest first, at
most the newest `MAX_COMMITS`: pushes made while the server was down are built after it restarts,
each once, and a commit some build already has (however it was triggered) is not built again.

A check that fails is stored as the pipeline's polling error (`polling_error_key`, shown with the
pipeline) until a check succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
from datetime import datetime
from pathlib import Path
from typing import Protocol

from conveyor.commands.builds import request_build
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.builds import Build, Trigger, TriggerKind
from conveyor.domain.clock import Clock, format_timestamp
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.domain.webhooks import polling_error_key, seen_commit_key
from conveyor.store import Store, Transaction

log = logging.getLogger(__name__)

GIT_TIMEOUT_SECONDS = 30.0
MAX_COMMITS = 20
MIRRORS_DIR = "git-mirrors"

WatchKey = tuple[str, str, str, int | None]
"""What a check depends on: name, repository, branch, poll_seconds."""


class RequestBuild(Protocol):
    """What queues a build: `conveyor.commands.builds.request_build` (a test may wrap it)."""

    def __call__(
        self, tx: Transaction, pipeline: PipelineDefinition, *, trigger: Trigger, now: datetime
    ) -> Build | None: ...


class GitError(Exception):
    """A git command failed or took longer than `GIT_TIMEOUT_SECONDS`."""


class GitWatcher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        wakeup: Wakeup,
        *,
        data_dir: Path,
        request_build: RequestBuild = request_build,
        tick_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._wakeup = wakeup
        self._request_build = request_build
        self._mirrors = data_dir / MIRRORS_DIR
        self._tick_seconds = tick_seconds
        self._due: dict[WatchKey, float | None] = {}
        """Monotonic time of each pipeline's next check; None: never."""
        self._checks: dict[WatchKey, asyncio.Task[None]] = {}
        self._mirror_locks: dict[Path, asyncio.Lock] = {}
        self._mirrors_in_use: frozenset[Path] | None = None

    async def run(self) -> None:
        try:
            while True:
                try:
                    self._start_due_checks()
                except Exception:
                    log.exception("git watcher pass failed; retrying")
                await asyncio.sleep(self._tick_seconds)
        finally:
            for task in self._checks.values():
                task.cancel()
            for task in list(self._checks.values()):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _start_due_checks(self) -> None:
        with self._store.transaction() as tx:
            pipelines = tx.list_pipelines()
        now = self._clock.monotonic()
        due: dict[WatchKey, float | None] = {}
        for pipeline in pipelines:
            key = (pipeline.name, pipeline.repository, pipeline.branch, pipeline.poll_seconds)
            first = now if pipeline.poll_seconds is not None else None
            due[key] = self._due.get(key, first)
            moment = due[key]
            if moment is not None and moment <= now and key not in self._checks:
                self._checks[key] = asyncio.create_task(self._check_and_reschedule(pipeline, key))
        self._due = due
        self._remove_unused_mirrors(frozenset(self._mirror_of(p.repository) for p in pipelines))

    def _mirror_of(self, repository: str) -> Path:
        return self._mirrors / hashlib.sha256(repository.encode()).hexdigest()[:24]

    def _remove_unused_mirrors(self, in_use: frozenset[Path]) -> None:
        """When the repositories watched change, remove the mirrors no pipeline uses any more
        (not one being fetched into)."""
        if self._mirrors_in_use == in_use:
            return
        self._mirrors_in_use = in_use
        if not self._mirrors.is_dir():
            return
        for mirror in self._mirrors.iterdir():
            lock = self._mirror_locks.get(mirror)
            if mirror not in in_use and not (lock and lock.locked()):
                self._mirror_locks.pop(mirror, None)
                shutil.rmtree(mirror, ignore_errors=True)

    async def _check_and_reschedule(self, pipeline: PipelineDefinition, key: WatchKey) -> None:
        try:
            await self.check(pipeline)
            self._record_polling_error(pipeline, None)
        except GitError as error:
            log.warning(
                "pipeline %s: cannot read %s: %s", pipeline.name, pipeline.repository, error
            )
            self._record_polling_error(pipeline, str(error))
        except Exception as error:
            log.exception("pipeline %s: checking for new commits failed", pipeline.name)
            self._record_polling_error(pipeline, f"checking for new commits failed: {error!r}")
        finally:
            self._checks.pop(key, None)
            if key in self._due:
                self._due[key] = self._next_check(pipeline)

    def _next_check(self, pipeline: PipelineDefinition) -> float | None:
        if pipeline.poll_seconds is None:
            return None
        return self._clock.monotonic() + pipeline.poll_seconds

    def _record_polling_error(self, pipeline: PipelineDefinition, message: str | None) -> None:
        """Keep the failure of the pipeline's last check (None: it succeeded) for people to
        see with the pipeline."""
        key = polling_error_key(pipeline.name)
        with self._store.transaction() as tx:
            if message is None:
                tx.delete_values(key)
            elif tx.get_pipeline(pipeline.name) is not None:
                tx.put_value(key, {"at": format_timestamp(self._clock.now()), "message": message})

    async def check(self, pipeline: PipelineDefinition) -> list[Build]:
        """Request builds of the commits on the pipeline's branch since the last seen one
        (before the first poll: since the newest build's, if any; else the head is only
        recorded); the builds queued (commits already built or queued are left out)."""
        head = await branch_head(pipeline.repository, pipeline.branch)
        if head is None:
            raise GitError(f"the repository has no branch {pipeline.branch!r} (yet)")
        seen = self._seen_commit(pipeline)
        since = seen or self._last_built_commit(pipeline)
        if since is None or head == since:
            if seen is None:
                self._start_watching(pipeline, head)
            return []
        mirror = self._mirror_of(pipeline.repository)
        async with self._mirror_locks.setdefault(mirror, asyncio.Lock()):
            commits = await new_commits(mirror, pipeline.repository, pipeline.branch, since, head)
        builds = self._request_builds(pipeline, commits, seen=seen)
        if builds:
            self._wakeup.ring()
        return builds

    def _seen_commit(self, pipeline: PipelineDefinition) -> str | None:
        with self._store.transaction() as tx:
            seen = tx.get_value(seen_commit_key(pipeline.name, pipeline.branch))
        return seen if isinstance(seen, str) else None

    def _last_built_commit(self, pipeline: PipelineDefinition) -> str | None:
        """The commit of the pipeline's newest build that has one (a build asked for by hand
        before the first poll: the commits after it are new)."""
        with self._store.transaction() as tx:
            builds = tx.list_builds(pipeline.name, limit=10)
        return next((build.commit for build in builds if build.commit), None)

    def _start_watching(self, pipeline: PipelineDefinition, head: str) -> None:
        """Record `head` as the first commit seen (unless a webhook recorded one meanwhile)."""
        key = seen_commit_key(pipeline.name, pipeline.branch)
        with self._store.transaction() as tx:
            if tx.get_value(key) is None and tx.get_pipeline(pipeline.name) == pipeline:
                tx.put_value(key, head)

    def _request_builds(
        self, pipeline: PipelineDefinition, commits: list[str], *, seen: str | None
    ) -> list[Build]:
        """In one transaction, and only when nothing moved since the check began: a webhook
        that requested a newer commit meanwhile wins, the next check starts from it."""
        key = seen_commit_key(pipeline.name, pipeline.branch)
        ref = f"refs/heads/{pipeline.branch}"
        builds: list[Build] = []
        with self._store.transaction() as tx:
            if tx.get_value(key) != seen or tx.get_pipeline(pipeline.name) != pipeline:
                return []
            for commit in commits:
                trigger = Trigger(kind=TriggerKind.POLL, by="poller", commit=commit, ref=ref)
                build = self._request_build(tx, pipeline, trigger=trigger, now=self._clock.now())
                tx.put_value(key, commit)
                if build is not None:
                    builds.append(build)
        return builds


async def branch_head(repository: str, branch: str) -> str | None:
    """The commit `branch` points to in `repository` (a URL or a local path); None when the
    repository has no such branch."""
    ref = f"refs/heads/{branch}"
    output = await run_git("ls-remote", _repository_argument(repository), ref)
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


async def new_commits(
    mirror: Path, repository: str, branch: str, seen: str | None, head: str
) -> list[str]:
    """The first-parent commits after `seen` up to `head`, oldest first, at most the newest
    MAX_COMMITS; just `head` when `seen` is None or unknown to the repository."""
    if seen is None:
        return [head]
    if not mirror.exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        await run_git("init", "--bare", "--quiet", str(mirror))
    git_dir = f"--git-dir={mirror}"
    refspec = f"+refs/heads/{branch}:refs/heads/{branch}"
    await run_git(
        git_dir, "fetch", "--quiet", "--no-tags", _repository_argument(repository), refspec
    )
    try:
        await run_git(git_dir, "cat-file", "-e", f"{seen}^{{commit}}")
    except GitError:
        return [head]
    since = ("--first-parent", "--reverse", f"--max-count={MAX_COMMITS}", f"{seen}..{head}")
    listed = await run_git(git_dir, "rev-list", *since)
    return listed.split()[-MAX_COMMITS:] or [head]


def _repository_argument(repository: str) -> str:
    if repository.startswith("-"):
        raise GitError(f"refusing repository {repository!r}: it reads as an option")
    return repository


async def run_git(*args: str) -> str:
    """Run git without a terminal to prompt on; its output, or GitError."""
    command = next((arg for arg in args if not arg.startswith("-")), "")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT_SECONDS)
    except TimeoutError as error:
        raise GitError(f"git {command} took longer than {GIT_TIMEOUT_SECONDS:.0f} s") from error
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    if process.returncode != 0:
        said = what_git_said(stderr.decode(errors="replace"))
        raise GitError(f"git {command} failed: {said or f'exit status {process.returncode}'}")
    return stdout.decode()


def what_git_said(stderr: str) -> str:
    """git's complaint in one line: its `fatal:`/`error:` lines (without the prefix), else all
    of its lines; `'/srv/x' does not appear to be a git repository; Could not read from remote
    repository.` rather than the last line of the advice that follows."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    prefixes = ("fatal:", "error:")
    errors = [line.split(":", 1)[1].strip() for line in lines if line.startswith(prefixes)]
    return "; ".join(errors or lines)
