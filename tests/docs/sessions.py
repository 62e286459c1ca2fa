"""Run a document's examples the way a new user would, against a real server.

One `DocumentSession` per document: a working directory that stands for the user's checkout
(`.venv` links to this interpreter's virtual environment, `.conveyor` is the data dir of the
`conveyor up` server started for the document, on a free loopback port, as `./scripts/up`
starts it) and a home directory with a git identity. Its blocks run in order in that directory,
and the directory a shell block ends in is where the next one starts, as in one terminal. Each
block is rewritten only as far as the test needs: `localhost:8080` and `127.0.0.1:8080` become the
test server's address, `/tmp/` the session's own temporary directory; `conveyor` (bare, or as
`.venv/bin/conveyor`) is the real one and talks to the test server through `CONVEYOR_SERVER`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import pytest

from conveyor.client import ConveyorClient
from conveyor.client.errors import Conflict, NotFound
from conveyor.client.models import all_steps, build_has_ended
from tests.docs.examples import SHELL, Block, missing_words
from tests.support.gitrepos import Repo
from tests.support.servers import ServerProcess, kill_leftover_tasks, wait_for

_ADDRESS = re.compile(r"\b(?:localhost|127\.0\.0\.1):8080\b")
_STREAMING = re.compile(r"(--follow\b|\s-F\b|text/event-stream)")
# Commands the documents use that a machine may lack; a block that names one that is missing
# is skipped (failed under CI, where ./scripts/test installs them).
_TOOLS = ("curl", "jq", "git", "timeout", "sha256sum", "tar")
_SAMPLE_SERVICE = {"app.py": "app.py.template", "test_app.py": "test_app.py.template"}

_PRELUDE = """\
set -euo pipefail
cd "$(cat "$EXAMPLE_STATE/cwd")"
trap 'pwd > "$EXAMPLE_STATE/cwd"' EXIT
curl() {{ command curl --fail-with-body "$@"; }}  # an HTTP error fails the example
example_stream() {{
    local status=0
    timeout {stream} "$@" || status=$?
    if [ "$status" -eq 124 ]; then return 0; fi
    return "$status"
}}
"""


class ExampleFailed(AssertionError):
    """A documented example did not do what the document says."""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    detail: str


def _require_tools(text: str) -> None:
    for tool in _TOOLS:
        if re.search(rf"(^|[\s|;&(]){tool}\s", text) and shutil.which(tool) is None:
            message = f"`{tool}` is not installed here (./scripts/test installs it)"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)


def bounded_streams(script: str) -> str:
    """Prefix each command line that streams with `example_stream` (see the prelude)."""
    lines = []
    for line in script.splitlines():
        stripped = line.lstrip()
        if _STREAMING.search(line) and stripped and not stripped.startswith("#"):
            lines.append(line[: len(line) - len(stripped)] + "example_stream " + stripped)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _sample_file(name: str) -> str:
    return resources.files("conveyor.examples").joinpath("hello_service", name).read_text()


class DocumentSession:
    def __init__(self, document: str, directory: Path, *, port_range: tuple[int, int]) -> None:
        self.document = document
        self.directory = directory
        self.port_range = port_range
        self.server: ServerProcess | None = None
        self.outcomes: dict[int, Outcome] = {}
        self.variables: dict[str, str] = {}
        self._state = directory / ".example-state"
        self._state.mkdir(parents=True)
        (self._state / "cwd").write_text(str(directory))
        (directory / "tmp").mkdir()
        (directory / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        (directory / ".gitconfig").write_text(
            "[user]\n\tname = Ada\n\temail = ada@example.invalid\n[init]\n\tdefaultBranch = main\n"
        )

    # the server

    def url(self) -> str:
        if self.server is None:
            self.server = ServerProcess(
                self.directory / ".conveyor", subcommand="up", port_range=self.port_range
            ).start()
            self._wait_for_examples(self.server.url)
        return self.server.url

    @staticmethod
    def _wait_for_examples(url: str) -> None:
        """What a user sees when `./scripts/up` is done: the example app deployed."""

        def deployed() -> bool:
            app = httpx.get(f"{url}/v2/apps/examples/hello", timeout=5).json()["app"]
            idle = not httpx.get(f"{url}/v2/deployments", timeout=5).json()
            return idle and app["tasksRunning"] == app["instances"]

        wait_for(deployed, timeout=60, message="the example app deployed")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            kill_leftover_tasks(self.server.data_dir)

    # running blocks

    def check(self, block: Block, earlier: list[Block]) -> None:
        """Run the blocks before `block` that have not run (their outcome is only reported),
        then `block`; fail the test if it does not do what the document says."""
        for previous in earlier:
            if previous.line not in self.outcomes and previous.annotation.skip is None:
                try:
                    self._run(previous)
                except pytest.skip.Exception as skipped:
                    self.outcomes[previous.line] = Outcome(passed=False, detail=str(skipped))
        if block.annotation.skip is not None:
            pytest.skip(block.annotation.skip)
        outcome = self._run(block)
        if not outcome.passed:
            failed_before = [
                b.id for b in earlier if not self.outcomes.get(b.line, Outcome(True, "")).passed
            ]
            note = f"\n(earlier examples that failed: {', '.join(failed_before)})"
            pytest.fail(outcome.detail + (note if failed_before else ""), pytrace=False)

    def _run(self, block: Block) -> Outcome:
        try:
            self._dispatch(block)
        except ExampleFailed as failure:
            outcome = Outcome(passed=False, detail=str(failure))
        else:
            outcome = Outcome(passed=True, detail="")
        self.outcomes[block.line] = outcome
        return outcome

    def _dispatch(self, block: Block) -> None:
        if block.annotation.file is not None:
            self._write_file(block)
        elif block.language in SHELL:
            self._run_shell(block)
        elif block.language == "json":
            self._check_json(block)
        elif block.is_pipeline:
            self._build_pipeline(block)
        elif block.language == "python":
            self._run_python(block)
        else:
            raise ExampleFailed(
                f"{block.id}: the harness cannot run a `{block.language}` block; make it "
                "runnable or annotate it `<!-- example: skip — why -->`"
            )

    def _rewrite(self, text: str, block: Block) -> str:
        for old, new in block.annotation.substitutions:
            if old not in text:
                raise ExampleFailed(f"{block.id}: the placeholder {old!r} is not in the block")
            text = text.replace(old, new)
        address = self.url().removeprefix("http://")
        return _ADDRESS.sub(address, text)

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.variables,
            "HOME": str(self.directory),
            "TMPDIR": str(self.directory / "tmp"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "CONVEYOR_SERVER": self.url(),
            "EXAMPLE_STATE": str(self._state),
            "NO_COLOR": "1",
            "USER": "ada",  # the documents' user
            "LOGNAME": "ada",
            "COLUMNS": "120",
        }

    def _cwd(self) -> Path:
        return Path((self._state / "cwd").read_text().strip())

    def _execute(self, command: list[str], block: Block) -> str:
        """Run `command` in its own process group (the whole group is killed at the timeout);
        its output, stdout and stderr together."""
        timeout = block.annotation.timeout
        process = subprocess.Popen(
            command,
            cwd=self._cwd(),
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            raise ExampleFailed(
                f"{block.id}: still running after {timeout:g}s\n{output.decode(errors='replace')}"
            ) from None
        if process.returncode != block.annotation.exit_status:
            raise ExampleFailed(
                f"{block.id}: exit status {process.returncode}, expected "
                f"{block.annotation.exit_status}\n{output.decode(errors='replace')}"
            )
        return output.decode(errors="replace")

    def _run_shell(self, block: Block) -> None:
        script = self._rewrite(block.shell_script(), block)
        script = script.replace("/tmp/", f"{self.directory}/tmp/")
        _require_tools(script)
        if block.annotation.stream is not None:
            script = bounded_streams(script)
        prelude = _PRELUDE.format(stream=block.annotation.stream or 0)
        output = self._execute(["bash", "-c", prelude + script], block)
        if missing := missing_words(block.expected_output or "", output):
            raise ExampleFailed(
                f"{block.id}: the output shown after the block has {missing}, the real "
                f"output does not:\n{output}"
            )

    def _run_python(self, block: Block) -> None:
        self._execute([sys.executable, "-c", self._rewrite(block.text, block)], block)

    def _write_file(self, block: Block) -> None:
        if block.language == "json":
            self._parse_json(block)
        target = self._cwd() / str(block.annotation.file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text)

    # JSON: definitions are deployed, anything else must parse

    @staticmethod
    def _parse_json(block: Block) -> object:
        try:
            return json.loads(block.text)
        except json.JSONDecodeError as error:
            raise ExampleFailed(f"{block.id}: not JSON: {error}") from None

    def _check_json(self, block: Block) -> None:
        document = self._parse_json(block)
        if not isinstance(document, dict) or "id" not in document:
            return
        if {"cmd", "args", "container"} & document.keys():
            self._deploy(block, "/v2/apps", document, f"/v2/apps/{document['id'].strip('/')}")
        elif {"apps", "groups"} & document.keys():
            self._deploy(block, "/v2/groups", document, f"/v2/groups/{document['id'].strip('/')}")

    def _deploy(self, block: Block, path: str, document: dict[str, object], created: str) -> None:
        """POST the definition, follow its deployment to the end (unless `deploy=accepted`),
        then remove what it created."""
        url = self.url()
        response = httpx.post(f"{url}{path}", json=document, timeout=30)
        if not response.is_success:
            raise ExampleFailed(
                f"{block.id}: {path} answered {response.status_code}: {response.text}"
            )
        try:
            deployment = response.headers.get("Marathon-Deployment-Id") or response.json().get(
                "deploymentId"
            )
            if block.annotation.deploy_accepted_only or not deployment:
                return
            with ConveyorClient(url) as client:
                outcome = client.wait_for_deployment(deployment, timeout=block.annotation.timeout)
            if not outcome.succeeded:
                raise ExampleFailed(
                    f"{block.id}: the definition was accepted but its deployment did not "
                    f"succeed: {outcome.result} {outcome.message}\n"
                    + httpx.get(f"{url}/v2/queue", timeout=10).text
                )
        finally:
            httpx.delete(f"{url}{created}", params={"force": "true"}, timeout=30)

    # pipelines: a real repository, a registered pipeline, a build to its end

    def _build_pipeline(self, block: Block) -> None:
        # registered under a name of its own, so that the document's own pipeline of that name
        # starts at build 1 when the document registers it
        name = f"example-{block.pipeline_name}"[:63]
        path = self.directory / "repositories" / block.pipeline_name
        repo = Repo(path)  # `git init` again is harmless for a second block of one name
        files = {target: _sample_file(source) for target, source in _SAMPLE_SERVICE.items()}
        repo.commit({**files, "conveyor_pipeline.py": block.text}, message=f"{block.id}")
        self.variables["PIPELINE_REPO"] = str(path)
        with ConveyorClient(self.url()) as client:
            client.put_pipeline({"name": name, "repository": str(path), "pollSeconds": None})
            try:
                build = self._follow_build(client, name, block)
                if build["status"] != "success":
                    failures = self._failures(client, name, build)
                    raise ExampleFailed(f"{block.id}: build {build['status']}\n{failures}")
            finally:
                wait_for(lambda: self._removed(client, name), timeout=30, message="removal")

    def _follow_build(self, client: ConveyorClient, name: str, block: Block) -> dict[str, object]:
        """Trigger a build and release each manual step with its defaults, to the end."""
        number = client.trigger_build(name, by="docs")["number"]
        deadline = time.monotonic() + block.annotation.timeout
        released: set[str] = set()  # a step still waits until its worker takes the release
        while time.monotonic() < deadline:
            build = client.get_build(name, number)
            if build_has_ended(build):
                return build
            for step in all_steps(build):
                if step.get("status") == "waiting" and step["id"] not in released:
                    client.release_step(name, number, step["id"], by="docs", parameters={})
                    released.add(step["id"])
            time.sleep(0.2)
        client.kill_build(name, number)
        raise ExampleFailed(f"{block.id}: the build did not end in {block.annotation.timeout:g}s")

    @staticmethod
    def _removed(client: ConveyorClient, name: str) -> bool:
        try:
            client.delete_pipeline(name)
        except NotFound:
            return True
        except Conflict:  # a build is still ending
            return False
        return True

    @staticmethod
    def _failures(client: ConveyorClient, name: str, build: dict[str, object]) -> str:
        """The output of each step that did not succeed."""
        lines = []
        for step in all_steps(build):
            if step.get("status") != "success" and not step.get("children"):
                output = client.read_step_output(name, int(str(build["number"])), step["id"])
                lines.append(f"step {step['id']} {step.get('name')}: {step['status']}\n{output}")
        return "\n".join(lines)
