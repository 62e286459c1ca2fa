"""What a new user meets following the README: a version, a deploy from a script that shows its
progress, and clear answers about apps that do not exist."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conveyor.cli.main import app
from conveyor.client import ConveyorClient, NotFound
from conveyor.client.definitions import DEFINITION_FIELDS
from conveyor.domain.app_json import APP_DOCUMENT_KEYS
from tests.cli.test_commands import SLEEPER, conveyor, deploy
from tests.support.servers import ServerProcess


def test_version_is_printed() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"conveyor {version('conveyor')}\n"


@pytest.mark.slow
def test_scaling_an_app_that_does_not_exist_says_so(server: ServerProcess) -> None:
    result = conveyor(server, "apps", "scale", "nope", "2")
    assert result.exit_code == 1
    assert "App '/nope' does not exist" in result.stderr
    assert "cmd" not in result.stderr
    with ConveyorClient(server.url) as client, pytest.raises(NotFound):
        client.get_app("/nope")


@pytest.mark.slow
def test_a_deploy_without_a_terminal_prints_its_progress_as_lines(
    server: ServerProcess, tmp_path: Path
) -> None:
    slow_to_answer = SLEEPER | {
        "id": "/slow",
        "cmd": "sleep 2; exec python3 -m http.server $PORT0 --bind 127.0.0.1",
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0}],
    }
    result = deploy(server, tmp_path, slow_to_answer)
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if re.search(r"step \d/\d: ", line)]
    assert progress, result.stderr
    assert "/slow" in progress[0]
    assert "running" in progress[0]
    assert "finished" in result.stdout


def test_the_clients_definition_fields_are_the_servers() -> None:
    assert DEFINITION_FIELDS == APP_DOCUMENT_KEYS


@pytest.mark.slow
def test_deploy_warns_about_unknown_fields_and_still_deploys(
    server: ServerProcess, tmp_path: Path
) -> None:
    typo = {key: value for key, value in SLEEPER.items() if key != "instances"}
    result = deploy(server, tmp_path, typo | {"instance": 2, "tasksRunning": 1})
    assert result.exit_code == 0, result.output
    assert "warning: unknown field 'instance' (did you mean 'instances'?)" in result.stderr
    assert "tasksRunning" not in result.stderr
    assert "finished" in result.stdout


@pytest.mark.slow
def test_refused_fields_are_told_in_words(server: ServerProcess, tmp_path: Path) -> None:
    result = deploy(server, tmp_path, SLEEPER | {"instances": "three"})
    assert result.exit_code == 1
    assert "instances: expected a number" in result.stderr
    assert "error.expected" not in result.stderr
