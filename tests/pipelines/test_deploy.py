"""deploy_app against a real Conveyor server."""

from __future__ import annotations

import httpx
import pytest

from conveyor.client import ConveyorClient
from conveyor.domain.builds import BuildStatus, Detail, StepStatus
from conveyor.pipelines import Context, deploy_app
from tests.pipelines.conftest import run
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow


def test_deploy_app_deploys_through_the_server_and_links_the_app(
    server: ServerProcess, context: Context
) -> None:
    app = {"id": "/pipeline-web", "cmd": "sleep 600", "cpus": 0.1, "mem": 32, "instances": 1}
    context = Context.for_build("demo", 1, context.workspace, server=server.url)
    try:
        status, reporter = run([deploy_app(app, timeout=60)], context)

        assert status is BuildStatus.SUCCESS, reporter.text((1,))
        finished = reporter.finished((1,))
        assert finished is not None
        deployment_id = str(finished.values["deployment_id"])
        assert Detail("deployment", raw=deployment_id) in finished.details
        assert Detail("/pipeline-web", href="/v2/apps/pipeline-web") in finished.details
        running = httpx.get(f"{server.url}/v2/apps/pipeline-web", timeout=10).json()["app"]
        assert running["tasksRunning"] == 1
    finally:
        with ConveyorClient(server.url) as client:
            client.delete_app("/pipeline-web", force=True)


def test_an_app_the_server_refuses_fails_the_step_with_the_reason(
    server: ServerProcess, context: Context
) -> None:
    context = Context.for_build("demo", 1, context.workspace, server=server.url)

    status, reporter = run([deploy_app({"id": "/broken", "instances": -1}, timeout=30)], context)

    finished = reporter.finished((1,))
    assert status is BuildStatus.FAILURE
    assert finished is not None and finished.status is StepStatus.FAILURE
    assert finished.message
