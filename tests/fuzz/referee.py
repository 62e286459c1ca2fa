"""The promises every fuzz case is held to, on one real server:

- no answer is a 5xx (the server log's tail is shown when one is);
- nothing a rejected request carried is stored: `GET /v2/apps`, `/v2/groups` and
  `/api/pipelines` answer the same bodies before and after (less what running tasks change);
- `/ping` answers within one second afterwards (the original bug: a 2,000-segment app id kept the
  server busy for an hour).

A case the server accepts may store things and start tasks: the referee puts the server back to
its seed (apps, groups and pipelines the fixture made) so the next case starts from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from tests.support.servers import ServerProcess

PING_SECONDS = 1.0
"""How long `/ping` may take after any case (the issue's promise: every answer within 1 s)."""

VOLATILE_KEYS = frozenset(
    {
        "tasksRunning",
        "tasksStaged",
        "tasksHealthy",
        "tasksUnhealthy",
        "deployments",
        "tasks",
        "lastTaskFailure",
        "taskStats",
        "readinessCheckResults",
    }
)
"""What running tasks and deployments change in the listings without any request."""

LIVE_APP_ID = "/fuzz/live/echo"
SEED_APPS: tuple[dict[str, Any], ...] = (
    {"id": "/fuzz/seed/web", "cmd": "sleep 600", "instances": 0, "cpus": 0.1, "mem": 16},
    {
        "id": "/fuzz/seed/db",
        "cmd": "sleep 600",
        "instances": 0,
        "cpus": 0.1,
        "mem": 16,
        "env": {"MODE": "seed"},
        "labels": {"team": "fuzz"},
    },
    {"id": LIVE_APP_ID, "cmd": "echo fuzz-log-line; sleep 600", "instances": 1, "mem": 16},
)
"""Two apps without tasks, and one with a task whose log the fuzz reads."""
SEED_GROUP: dict[str, Any] = {"id": "/fuzz/explicit", "dependencies": ["/fuzz/seed"]}
SEED_PIPELINE: dict[str, Any] = {
    "name": "fuzz-seed",
    "repository": "fuzz://git.invalid/fuzz/seed.git",
    "branch": "main",
    "pollSeconds": None,
    "secret": "fuzz-secret",
}
"""A pipeline whose pushes must be signed: fuzzed deliveries for its repository are refused (401)
and start no build. Its repository is remote, in a scheme git has no transport for, so nothing
checks it at registration and no poll or build reaches the network."""


def without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


@dataclass(frozen=True)
class StoredState:
    """What the server shows it stores, as the three listings answer it."""

    apps: Any
    groups: Any
    pipelines: Any

    @classmethod
    def read(cls, client: httpx.Client) -> StoredState:
        bodies = []
        for path in ("/v2/apps", "/v2/groups", "/api/pipelines"):
            response = client.get(path)
            assert response.status_code == 200, (
                f"GET {path}: {response.status_code} {response.text}"
            )
            bodies.append(without_volatile(response.json()))
        return cls(*bodies)


@dataclass
class Referee:
    """Checks each case's answer and the server after it; restores the seed after a change."""

    server: ServerProcess = field(repr=False)
    client: httpx.Client = field(repr=False)
    baseline: StoredState | None = field(default=None, repr=False)

    def before(self) -> StoredState:
        if self.baseline is None:
            self.baseline = StoredState.read(self.client)
        return self.baseline

    def send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> httpx.Response:
        """One request of a case, then every check; a body is JSON unless headers say not."""
        self.before()
        all_headers = {"content-type": "application/json"} if content is not None else {}
        all_headers.update(headers or {})
        response = self.client.request(
            method, path, content=content, headers=all_headers, params=params
        )
        self.judge(response)
        return response

    def judge(self, response: httpx.Response) -> None:
        request = response.request
        described = f"{request.method} {_shown(str(request.url))}"
        assert response.status_code < 500, (
            f"{described} answered {response.status_code}: {response.text[:2000]}\n"
            f"server log tail:\n{self.server.log()[-6000:]}"
        )
        self.answers_ping(after=described)
        if response.status_code >= 400:
            after = StoredState.read(self.client)
            assert after == self.before(), (
                f"{described} was refused ({response.status_code}: {response.text[:500]}) "
                f"but what the server stores changed:\n{_difference(self.before(), after)}"
            )
        else:
            self.restore()

    def answers_ping(self, *, after: str = "") -> None:
        try:
            response = self.client.get("/ping", timeout=PING_SECONDS)
        except httpx.TimeoutException as error:
            raise AssertionError(f"/ping took more than {PING_SECONDS}s after {after}") from error
        assert response.status_code == 200, response.text

    def restore(self) -> None:
        """Back to the seed: the groups and apps the case created go, dependencies it gave
        groups go, seed apps are put back (so no task but the seed's is left running)."""
        self.baseline = None
        self._remove_groups()
        self._clear_group_dependencies(self.client.get("/v2/groups").json())
        apps = self.client.get("/v2/apps").json()["apps"]
        seeds = {app["id"]: app for app in SEED_APPS}
        for app in apps:
            if app["id"] not in seeds:
                self._expect_ok(self.client.delete(f"/v2/apps{quote(app['id'])}?force=true"))
        present = {app["id"]: app for app in apps}
        for app_id, seed in seeds.items():
            if _differs(present.get(app_id), seed):
                url = f"/v2/apps{app_id}?force=true&partialUpdate=false"
                self._expect_ok(self.client.put(url, json=seed))
        put = self.client.put(f"/v2/groups{SEED_GROUP['id']}?force=true", json=SEED_GROUP)
        self._expect_ok(put)
        self._restore_pipelines()
        self.baseline = StoredState.read(self.client)

    def _remove_groups(self) -> None:
        root = self.client.get("/v2/groups").json()
        for group in root["groups"]:
            if group["id"] != "/fuzz":
                self._expect_ok(self.client.delete(f"/v2/groups{quote(group['id'])}?force=true"))
        fuzz = self.client.get("/v2/groups/fuzz")
        kept = {"/fuzz/seed", "/fuzz/live", SEED_GROUP["id"]}
        if fuzz.status_code == 200:
            for group in fuzz.json()["groups"]:
                if group["id"] not in kept:
                    url = f"/v2/groups{quote(group['id'])}?force=true"
                    self._expect_ok(self.client.delete(url))

    def _clear_group_dependencies(self, group: dict[str, Any]) -> None:
        if group["dependencies"] and group["id"] != SEED_GROUP["id"]:
            url = f"/v2/groups{quote(group['id'])}?force=true"
            self._expect_ok(self.client.put(url, json={"dependencies": []}))
        for child in group["groups"]:
            self._clear_group_dependencies(child)

    def _restore_pipelines(self) -> None:
        for pipeline in self.client.get("/api/pipelines").json():
            if pipeline["name"] != SEED_PIPELINE["name"]:
                url = f"/api/pipelines/{quote(pipeline['name'], safe='')}"
                self._expect_ok(self.client.delete(url))
        seed = self.client.get(f"/api/pipelines/{SEED_PIPELINE['name']}")
        if seed.status_code != 200 or not _same_pipeline(seed.json()):
            put = self.client.put(f"/api/pipelines/{SEED_PIPELINE['name']}", json=SEED_PIPELINE)
            self._expect_ok(put)

    def _expect_ok(self, response: httpx.Response) -> None:
        assert response.status_code < 300, (
            f"restoring the seed: {response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:1000]}"
        )


def _differs(app: dict[str, Any] | None, seed: dict[str, Any]) -> bool:
    if app is None:
        return True
    return any(app.get(key) != value for key, value in seed.items() if key != "id") or any(
        app.get(key) for key in ("env", "labels") if key not in seed
    )


def _same_pipeline(stored: dict[str, Any]) -> bool:
    fields = ("repository", "branch", "pollSeconds")
    return all(stored.get(name) == SEED_PIPELINE[name] for name in fields) and stored["hasSecret"]


def _difference(before: StoredState, after: StoredState) -> str:
    changed = []
    for name in ("apps", "groups", "pipelines"):
        was, now = getattr(before, name), getattr(after, name)
        if was != now:
            changed.append(f"{name} before: {was!r:.3000}\n{name} after: {now!r:.3000}")
    return "\n".join(changed)


def _shown(url: str) -> str:
    return url if len(url) <= 300 else f"{url[:300]}... ({len(url)} characters)"


def seed(client: httpx.Client) -> None:
    """Create the seed a fresh server starts every fuzz case from."""
    for app in SEED_APPS:
        response = client.post("/v2/apps", json=app)
        assert response.status_code == 201, response.text
    response = client.put(f"/v2/groups{SEED_GROUP['id']}", json=SEED_GROUP)
    assert response.status_code < 300, response.text
    response = client.post("/api/pipelines", json=SEED_PIPELINE)
    assert response.status_code == 201, response.text


def live_task_id(client: httpx.Client) -> str:
    """The id of the seed's running task (it changes when a case kills or replaces it)."""
    response = client.get(f"/v2/apps{LIVE_APP_ID}/tasks")
    tasks = response.json().get("tasks", []) if response.status_code == 200 else []
    return str(tasks[0]["id"]) if tasks else "no-live-task"
