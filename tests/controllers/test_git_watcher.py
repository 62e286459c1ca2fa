"""The git watcher against real git repositories in temp dirs and a real SQLite store; only the
clock that decides when a pipeline is due is faked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.commands.builds import request_build
from conveyor.controllers.git_watcher import MAX_COMMITS, GitWatcher, branch_head
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.builds import Build, Trigger, TriggerKind
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.domain.webhooks import polling_error_key, seen_commit_key
from conveyor.store import Transaction
from conveyor.store.sql import SqlStore
from tests.support.gitrepos import Repo, git

TICK = 0.01


class SteppedClock:
    """Wall time is real; the monotonic time that decides when a pipeline is due only moves
    when the test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@dataclass
class BuildRequests:
    """The real `request_build`, with every request it got written down."""

    triggers: list[tuple[str, Trigger]] = field(default_factory=list)

    def __call__(
        self, tx: Transaction, pipeline: PipelineDefinition, *, trigger: Trigger, now: datetime
    ) -> Build | None:
        self.triggers.append((pipeline.name, trigger))
        return request_build(tx, pipeline, trigger=trigger, now=now)

    def commits(self, pipeline: str) -> list[str | None]:
        return [trigger.commit for name, trigger in self.triggers if name == pipeline]


class Scene:
    """A repository with one commit, a store, the clock and the requests the watchers make;
    `watcher()` is a watcher as a freshly started server has one (same data dir and store)."""

    def __init__(self, tmp_path: Path, store: SqlStore) -> None:
        self.store = store
        self.clock = SteppedClock()
        self.requests = BuildRequests()
        self.data_dir = tmp_path / "data"
        self.repo = Repo(tmp_path / "service")
        self.repo.commit({"README": "one"}, "first")

    def watcher(self) -> GitWatcher:
        return GitWatcher(
            self.store,
            self.clock,
            Wakeup(),
            request_build=self.requests,
            data_dir=self.data_dir,
            tick_seconds=TICK,
        )

    def register(
        self, name: str, repository: str | None = None, *, poll_seconds: int | None = 60
    ) -> PipelineDefinition:
        pipeline = PipelineDefinition(
            name=name, repository=repository or str(self.repo.path), poll_seconds=poll_seconds
        )
        with self.store.transaction() as tx:
            tx.put_pipeline(pipeline)
            stored = tx.get_pipeline(name)
        assert stored is not None
        return stored

    def commit(self, text: str) -> str:
        self.repo.commit({"README": text}, text)
        return self.head()

    def head(self) -> str:
        return git(self.repo.path, "rev-parse", "HEAD")

    def requested(self, pipeline: str = "service") -> list[str | None]:
        return self.requests.commits(pipeline)

    def seen(self, pipeline: str = "service") -> object:
        with self.store.transaction() as tx:
            return tx.get_value(seen_commit_key(pipeline, "main"))

    def polling_error(self, pipeline: str = "service") -> object:
        with self.store.transaction() as tx:
            return tx.get_value(polling_error_key(pipeline))

    def built(self, pipeline: str = "service") -> list[str | None]:
        with self.store.transaction() as tx:
            return [build.commit for build in reversed(tx.list_builds(pipeline))]


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    store = SqlStore.open(f"sqlite:///{tmp_path}/db.sqlite")
    yield Scene(tmp_path, store)
    store.close()


@asynccontextmanager
async def running(watcher: GitWatcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(watcher.run())
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def eventually(condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(TICK)


async def a_few_passes() -> None:
    """Long enough for the loop to start any check that is due, and for a local one to end."""
    await asyncio.sleep(0.5)


def test_registering_a_pipeline_builds_nothing_and_a_new_commit_is_requested_once(
    scene: Scene,
) -> None:
    first = scene.head()
    scene.register("service", poll_seconds=60)

    async def scenario() -> str:
        async with running(scene.watcher()):
            await eventually(lambda: scene.seen() == first)
            second = scene.commit("second")
            await a_few_passes()
            assert scene.requested() == [], "polled before poll_seconds passed"
            scene.clock.advance(60)
            await eventually(lambda: scene.requested() == [second])
            for _ in range(2):
                scene.clock.advance(60)
                await a_few_passes()
        return second

    second = asyncio.run(scenario())
    assert scene.requested() == [second], "the head when the pipeline was added is not built"
    assert scene.built() == [second]
    trigger = scene.requests.triggers[-1][1]
    assert (trigger.kind, trigger.by, trigger.ref) == (
        TriggerKind.POLL,
        "poller",
        "refs/heads/main",
    )


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_commits_pushed_while_the_server_was_down_are_requested_in_order_each_once(
    scene: Scene, as_url: bool
) -> None:
    repository = scene.repo.path.as_uri() if as_url else str(scene.repo.path)
    pipeline = scene.register("service", repository, poll_seconds=60)
    first = scene.head()

    async def scenario() -> list[str]:
        assert await scene.watcher().check(pipeline) == []
        assert scene.seen() == first
        down = [scene.commit(f"while down {n}") for n in range(3)]
        restarted = scene.watcher()
        async with running(restarted):
            await eventually(lambda: len(scene.requested()) == 3)
            await a_few_passes()
        assert await restarted.check(pipeline) == []
        return down

    down = asyncio.run(scenario())
    assert scene.requested() == down
    assert scene.built() == down


def test_a_commit_a_person_built_is_not_built_again_after_a_restart(scene: Scene) -> None:
    pipeline = scene.register("service", poll_seconds=60)
    asyncio.run(scene.watcher().check(pipeline))
    pushed = scene.commit("pushed while the server was down")
    built_by_hand = scene.commit("and built by hand")
    with scene.store.transaction() as tx:
        manual = Trigger(kind=TriggerKind.MANUAL, by="ada")
        build = request_build(tx, pipeline, trigger=manual, now=datetime.now(UTC))
        assert build is not None
        tx.put_build(replace(build, commit=built_by_hand))  # as its worker reports it

    asyncio.run(scene.watcher().check(pipeline))
    assert scene.built() == [built_by_hand, pushed], "only the commit no build has is built"


def test_only_the_newest_commits_are_requested_after_a_long_absence(scene: Scene) -> None:
    pipeline = scene.register("service")

    async def scenario() -> list[str]:
        await scene.watcher().check(pipeline)
        made = [scene.commit(f"commit {n}") for n in range(MAX_COMMITS + 5)]
        await scene.watcher().check(pipeline)
        return made

    made = asyncio.run(scenario())
    assert scene.requested() == made[-MAX_COMMITS:]


def test_commits_after_a_build_asked_for_before_the_first_poll_are_built(scene: Scene) -> None:
    pipeline = scene.register("service", poll_seconds=60)
    first = scene.head()
    with scene.store.transaction() as tx:
        manual = Trigger(kind=TriggerKind.MANUAL, by="ada")
        build = request_build(tx, pipeline, trigger=manual, now=datetime.now(UTC))
        assert build is not None
        tx.put_build(replace(build, commit=first))
    pushed = [scene.commit(f"pushed {n}") for n in range(2)]

    asyncio.run(scene.watcher().check(pipeline))

    assert scene.built() == [first, *pushed]
    assert scene.seen() == pushed[-1]


def test_a_pipeline_without_polling_is_never_checked_not_even_after_a_restart(
    scene: Scene,
) -> None:
    scene.register("quiet", poll_seconds=None)
    scene.register("service", poll_seconds=60)

    async def scenario() -> None:
        for n in range(2):  # a first start, then a restart with commits made meanwhile
            async with running(scene.watcher()):
                await eventually(lambda: scene.seen() is not None)
                await a_few_passes()
                scene.clock.advance(3600)
                await a_few_passes()
            scene.commit(f"while down {n}")

    asyncio.run(scenario())
    assert scene.requested("quiet") == []
    assert scene.seen("quiet") is None
    assert scene.built("quiet") == []


def test_an_unreachable_repository_does_not_stop_the_loop_and_its_error_is_kept(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    gone = scene.repo.path.parent / "no-such-repository"
    scene.register("gone", str(gone), poll_seconds=5)
    scene.register("service", poll_seconds=5)
    caplog.set_level(logging.WARNING, logger="conveyor.controllers.git_watcher")

    async def scenario() -> str:
        async with running(scene.watcher()) as loop:
            await eventually(lambda: scene.seen() is not None)
            await eventually(lambda: scene.polling_error("gone") is not None)
            second = scene.commit("second")
            scene.clock.advance(5)
            await eventually(lambda: scene.requested() == [second])
            assert not loop.done()
            Repo(gone).commit({"README": "here now"}, "first")
            scene.clock.advance(5)
            await eventually(lambda: scene.polling_error("gone") is None)
        return second

    second = asyncio.run(scenario())
    assert scene.built() == [second]
    assert scene.requested("gone") == []
    failures = [r for r in caplog.records if "no-such-repository" in r.getMessage()]
    assert len(failures) >= 2, "the unreachable repository is tried again at its next interval"
    said = failures[0].getMessage()
    assert "does not appear to be a git repository" in said, said
    assert "and the repository exists" not in said


def test_a_polling_error_says_what_git_said(scene: Scene) -> None:
    gone = scene.register("gone", str(scene.repo.path.parent / "nowhere"), poll_seconds=5)

    async def scenario() -> None:
        async with running(scene.watcher()):
            await eventually(lambda: scene.polling_error("gone") is not None)

    asyncio.run(scenario())
    error = scene.polling_error(gone.name)
    assert isinstance(error, dict)
    assert error["message"].startswith("git ls-remote failed: '"), error
    assert "nowhere' does not appear to be a git repository" in error["message"]


def test_a_missing_branch_is_a_polling_error(scene: Scene) -> None:
    scene.register("service", poll_seconds=5)
    with scene.store.transaction() as tx:
        pipeline = tx.get_pipeline("service")
        assert pipeline is not None
        tx.put_pipeline(replace(pipeline, branch="release"))

    async def scenario() -> None:
        async with running(scene.watcher()):
            await eventually(lambda: scene.polling_error() is not None)

    asyncio.run(scenario())
    error = scene.polling_error()
    assert isinstance(error, dict)
    assert error["message"] == "the repository has no branch 'release' (yet)"


def test_a_commit_requested_by_a_webhook_is_not_requested_again(scene: Scene) -> None:
    pipeline = scene.register("service")
    with scene.store.transaction() as tx:
        tx.put_value(seen_commit_key("service", "main"), scene.head())
    assert asyncio.run(scene.watcher().check(pipeline)) == []
    assert scene.requests.triggers == []


def test_the_head_of_a_missing_branch_is_none(scene: Scene) -> None:
    repository = str(scene.repo.path)
    assert asyncio.run(branch_head(repository, "no-such-branch")) is None
    assert asyncio.run(branch_head(repository, "main")) == scene.head()


def test_the_mirror_of_a_repository_no_pipeline_watches_is_removed(
    scene: Scene, tmp_path: Path
) -> None:
    other = Repo(tmp_path / "other")
    other.commit({"README": "other"}, "first")
    scene.register("service")
    scene.register("other", str(other.path))
    mirrors = scene.data_dir / "git-mirrors"

    async def scenario() -> None:
        async with running(scene.watcher()):
            await eventually(lambda: scene.seen("other") is not None)
            await eventually(lambda: scene.seen() is not None)
            scene.commit("second")  # a commit after a seen one is fetched into a mirror
            other.commit({"README": "second"}, "second")
            scene.clock.advance(60)
            await eventually(lambda: len(scene.requested("other")) == 1)
            await eventually(lambda: len(scene.requested()) == 1)
            assert len(list(mirrors.iterdir())) == 2
            with scene.store.transaction() as tx:
                tx.delete_pipeline("other")
            await eventually(lambda: len(list(mirrors.iterdir())) == 1)
            scene.commit("third")
            scene.clock.advance(60)
            await eventually(lambda: len(scene.requested()) == 2)  # its mirror is still there

    asyncio.run(scenario())
