"""Acceptance: the unmodified `marathon` client (0.13.0 from PyPI) drives a real server through
an app's whole life: create, health, scale, kill, rolling restart, versions, rollback, events,
delete."""

from __future__ import annotations

import collections
import collections.abc
import math
import sys
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]  # marathon 0.13 on 3.10+

from marathon import MarathonApp, MarathonClient  # noqa: E402
from marathon.exceptions import NotFoundError  # noqa: E402
from marathon.models.app import MarathonHealthCheck  # noqa: E402

from tests.support.servers import ServerProcess, wait_for  # noqa: E402

pytestmark = pytest.mark.slow

APP_ID = "/shop/web"


def web_command(flavour: str) -> str:
    return f"FLAVOUR={flavour} exec {sys.executable} -m http.server $PORT0 --bind 127.0.0.1"


def healthy_tasks(client: MarathonClient) -> list:  # type: ignore[type-arg]
    app = client.get_app(APP_ID)
    return [
        task
        for task in app.tasks
        if task.state == "TASK_RUNNING"
        and task.health_check_results
        and all(result.alive for result in task.health_check_results)
    ]


def settled(client: MarathonClient, count: int) -> bool:
    """`count` healthy tasks, no other tasks, no deployment in flight."""
    app = client.get_app(APP_ID)
    return (
        not client.list_deployments()
        and len(app.tasks) == count
        and len(healthy_tasks(client)) == count
    )


class EventRecorder:
    """Reads `/v2/events` through the client in a background thread."""

    def __init__(self, client: MarathonClient) -> None:
        self.types: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(client,), daemon=True)
        self._thread.start()

    def _read(self, client: MarathonClient) -> None:
        try:
            for event in client.event_stream():
                self.types.append(event.event_type)
        except Exception:  # the server went away at the end of the test
            return


class HealthSampler:
    """Counts healthy tasks every 50 ms while a rolling restart runs."""

    def __init__(self, client: MarathonClient) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._client = client
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append(len(healthy_tasks(self._client)))
            time.sleep(0.05)

    def __enter__(self) -> HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def client(server: ServerProcess) -> Iterator[MarathonClient]:
    yield MarathonClient(server.url, timeout=10)


def test_marathon_client_drives_an_app_through_its_life(client: MarathonClient) -> None:
    events = EventRecorder(client)
    check = MarathonHealthCheck(
        protocol="HTTP",
        path="/",
        port_index=0,
        grace_period_seconds=10,
        interval_seconds=1,
        timeout_seconds=1,
        max_consecutive_failures=3,
    )
    app = MarathonApp(
        cmd=web_command("first"), instances=3, cpus=0.1, mem=64, health_checks=[check]
    )
    created = client.create_app(APP_ID, app)
    assert created.id == APP_ID
    wait_for(lambda: settled(client, 3), timeout=60, message="3 healthy tasks")

    client.scale_app(APP_ID, instances=5)
    wait_for(lambda: settled(client, 5), timeout=60, message="5 healthy tasks")
    client.scale_app(APP_ID, instances=2)
    wait_for(lambda: settled(client, 2), timeout=60, message="2 tasks after scaling down")

    victim = client.get_app(APP_ID).tasks[0]
    victim_pid = _pid_listening_on(victim.ports[0])
    client.kill_task(APP_ID, victim.id)
    wait_for(
        lambda: (
            settled(client, 2) and victim.id not in {t.id for t in client.get_app(APP_ID).tasks}
        ),
        timeout=60,
        message="the killed task replaced",
    )
    assert not psutil.pid_exists(victim_pid) or psutil.Process(victim_pid).status() == "zombie"

    versions_before = client.list_versions(APP_ID)
    minimum = math.ceil(2 * 1.0)  # instances × minimumHealthCapacity (the default, 1)
    with HealthSampler(client) as sampler:
        client.update_app(APP_ID, MarathonApp(cmd=web_command("second")))
        wait_for(lambda: settled(client, 2), timeout=90, message="the rolling restart")
        assert client.get_app(APP_ID).cmd == web_command("second")
    assert sampler.samples, "the sampler saw the restart"
    assert min(sampler.samples) >= minimum, sampler.samples

    versions = client.list_versions(APP_ID)
    assert len(versions) > len(versions_before)
    first_version = versions[-1]
    assert client.get_version(APP_ID, first_version).cmd == web_command("first")
    client.rollback_app(APP_ID, first_version)
    wait_for(
        lambda: client.get_app(APP_ID).cmd == web_command("first") and settled(client, 3),
        timeout=90,
        message="the rollback to the first version (3 instances)",
    )

    pids = [_pid_listening_on(task.ports[0]) for task in client.get_app(APP_ID).tasks]
    client.delete_app(APP_ID)
    wait_for(lambda: _is_gone(client), timeout=30, message="the app deleted")
    wait_for(lambda: not any(psutil.pid_exists(p) for p in pids), timeout=30, message="tasks gone")

    wait_for(
        lambda: (
            {
                "api_post_event",
                "status_update_event",
                "health_status_changed_event",
                "deployment_info",
                "deployment_step_success",
                "deployment_success",
            }
            <= set(events.types)
        ),
        timeout=10,
        message="Marathon's events on /v2/events",
    )


def _is_gone(client: MarathonClient) -> bool:
    try:
        client.get_app(APP_ID)
    except NotFoundError:
        return not client.list_tasks()
    return False


def _pid_listening_on(port: int) -> int:
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == "LISTEN":
            assert connection.pid is not None
            return connection.pid
    raise AssertionError(f"nothing listens on {port}")
