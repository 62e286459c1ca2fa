"""Retention through the build runner: finished builds beyond `keep_builds` go, with their
directories and the values kept for them; the builds kept keep theirs. A real SQLite store and
the local engine (nothing is launched: every build has ended)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conveyor.controllers.builds import BuildRunner
from conveyor.controllers.wakeup import Wakeup
from conveyor.domain.builds import Build, BuildStatus, Trigger, TriggerKind, build_keys
from conveyor.domain.clock import SystemClock
from conveyor.domain.pipelines import PipelineDefinition, Retention
from conveyor.engines.local import LocalEngine
from conveyor.store.sql import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_pruned_builds_take_their_directories_and_values_with_them(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path}/db.sqlite")
    pipeline = PipelineDefinition(
        name="web", repository="/nowhere", poll_seconds=None, retention=Retention(keep_builds=1)
    )
    with store.transaction() as tx:
        tx.put_pipeline(pipeline)
        for number in (1, 2, 3):
            ended = T0 + timedelta(minutes=number)
            trigger = Trigger(kind=TriggerKind.MANUAL, by="me")
            build = Build("web", number, BuildStatus.SUCCESS, trigger, T0, T0, ended)
            tx.put_build(build)
            for key in build_keys("web", number):
                tx.put_value(key, {"kept": number})

    async def scenario() -> None:
        engine = LocalEngine(tmp_path / "data", clock=SystemClock())
        runner = BuildRunner(
            store,
            engine,
            SystemClock(),
            Wakeup(),
            data_dir=tmp_path / "data",
            server_url="http://127.0.0.1:9",
        )
        for number in (1, 2, 3):
            runner.build_dir("web", number).mkdir(parents=True)
        try:
            await runner.reconcile()
        finally:
            await engine.close()

    asyncio.run(scenario())

    runner_dirs = tmp_path / "data" / "builds" / "web"
    assert sorted(path.name for path in runner_dirs.iterdir()) == ["3"]
    with store.transaction() as tx:
        assert [build.number for build in tx.list_builds("web")] == [3]
        values = {key: tx.get_value(key) for n in (1, 2, 3) for key in build_keys("web", n)}
    assert values == {key: {"kept": 3} if key.endswith(":3") else None for key in values}
    store.close()
