"""What the server keeps for an app or a pipeline goes when the app or the pipeline goes: the
queue's note on an app, a pipeline's per-build values and the commits seen on its branches. The
API runs on a real store without controllers."""

from __future__ import annotations

import httpx

from conveyor.domain.builds import build_keys
from conveyor.domain.queue import unplaced_key
from conveyor.domain.webhooks import polling_error_key, seen_commit_key
from conveyor.store.sql import SqlStore


def _values(store: SqlStore, keys: list[str]) -> list[object]:
    with store.transaction() as tx:
        return [tx.get_value(key) for key in keys]


def test_deleting_an_app_forgets_why_it_could_not_be_placed(
    api: httpx.Client, store: SqlStore
) -> None:
    for app_id in ("/web", "/web-2"):
        api.post("/v2/apps", json={"id": app_id, "cmd": "sleep 100"}).raise_for_status()
        with store.transaction() as tx:
            tx.put_value(unplaced_key(app_id), "Constraint hostname:LIKE:nowhere not met")

    api.delete("/v2/apps/web", params={"force": "true"}).raise_for_status()

    assert _values(store, [unplaced_key("/web"), unplaced_key("/web-2")]) == [
        None,
        "Constraint hostname:LIKE:nowhere not met",
    ]


def test_deleting_a_pipeline_forgets_its_builds_values_and_seen_commits(
    api: httpx.Client, store: SqlStore
) -> None:
    for name in ("web", "web-x"):
        body = {"name": name, "repository": "https://git.invalid/web.git", "pollSeconds": None}
        api.post("/api/pipelines", json=body).raise_for_status()
    kept = [*build_keys("web-x", 1), seen_commit_key("web-x", "main")]
    gone = [
        *build_keys("web", 1),
        *build_keys("web", 2),
        seen_commit_key("web", "main"),
        polling_error_key("web"),
    ]
    with store.transaction() as tx:
        for key in kept + gone:
            tx.put_value(key, "x")

    assert api.delete("/api/pipelines/web").status_code == 204

    assert _values(store, gone) == [None] * len(gone)
    assert _values(store, kept) == ["x"] * len(kept)
