"""`POST /hooks/git` on a real server: signed and unsigned pushes, refusals, ignored deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from tests.support.gitrepos import Repo
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

SECRET = "It's a Secret to Everybody"


def register(server: ServerProcess, name: str, repository: str, **extra: object) -> None:
    body = {"name": name, "repository": repository, "branch": "main", "pollSeconds": None}
    response = httpx.post(f"{server.url}/api/pipelines", json={**body, **extra}, timeout=10)
    assert response.status_code == 201, response.text


def github_push(repo: Repo, after: str, *, ref: str = "refs/heads/main") -> bytes:
    """A push as GitHub describes it, trimmed, naming the local repository as its clone URL."""
    return json.dumps(
        {
            "ref": ref,
            "before": "0" * 40,
            "after": after,
            "repository": {
                "full_name": "acme/service",
                "html_url": "https://git.example.invalid/acme/service",
                "clone_url": repo.path.as_uri(),
                "ssh_url": "git@git.example.invalid:acme/service.git",
            },
            "pusher": {"name": "octocat"},
        }
    ).encode()


def deliver(server: ServerProcess, body: bytes, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    return httpx.post(f"{server.url}/hooks/git", content=body, headers=sent, timeout=10)


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "service")
    repo.commit({"README": "one"})
    return repo


def test_a_signed_push_builds_every_pipeline_of_the_branch_once(
    server: ServerProcess, repo: Repo
) -> None:
    register(server, "guarded", str(repo.path), secret=SECRET)
    register(server, "open", str(repo.path / ".git"))
    register(server, "elsewhere", str(Repo(repo.path.parent / "other").path))
    sha = repo.commit({"README": "two"})
    body = github_push(repo, sha)

    response = deliver(
        server, body, **{"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(body)}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {
        "builds": [{"pipeline": "guarded", "number": 1}, {"pipeline": "open", "number": 1}]
    }
    again = deliver(server, body, **{"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(body)})
    assert again.status_code == 202
    assert again.json() == {
        "builds": [],
        "ignored": f"commit {sha} was seen already: built, queued, or the branch's head when "
        "the pipeline was added",
    }


def test_a_push_with_a_wrong_signature_builds_only_pipelines_without_a_secret(
    server: ServerProcess, repo: Repo
) -> None:
    register(server, "guarded", str(repo.path), secret=SECRET)
    first = repo.commit({"README": "two"})
    body = github_push(repo, first)
    forged = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(body, "a guess")}

    refused = deliver(server, body, **forged)
    assert refused.status_code == 401
    assert refused.json() == {"message": "signature does not match for pipeline guarded"}
    assert deliver(server, body, **{"X-GitHub-Event": "push"}).status_code == 401

    register(server, "open", str(repo.path))  # it watches from `first` on
    second = github_push(repo, repo.commit({"README": "three"}))
    forged = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(second, "a guess")}
    partly = deliver(server, second, **forged)
    assert partly.status_code == 202, partly.text
    assert partly.json() == {"builds": [{"pipeline": "open", "number": 1}]}


def test_deliveries_that_ask_for_nothing_are_accepted_and_ignored(
    server: ServerProcess, repo: Repo
) -> None:
    register(server, "open", str(repo.path))
    sha = repo.commit({"README": "two"})
    ping = deliver(server, b'{"zen": "Design for failure."}', **{"X-GitHub-Event": "ping"})
    assert (ping.status_code, ping.json()) == (202, {"builds": [], "ignored": "ping"})
    tag = deliver(server, github_push(repo, sha, ref="refs/tags/v1"), **{"X-GitHub-Event": "push"})
    assert tag.json() == {"builds": [], "ignored": "ref 'refs/tags/v1' is not a branch"}
    other = json.dumps({"repository": "/srv/nothing", "ref": "refs/heads/main", "after": sha})
    unknown = deliver(server, other.encode())
    assert unknown.status_code == 202
    assert unknown.json() == {
        "builds": [],
        "ignored": "no pipeline builds branch 'main' of /srv/nothing",
    }


def test_a_malformed_push_is_refused_naming_the_problem(server: ServerProcess) -> None:
    unreadable = deliver(server, b"{", **{"X-Gitea-Event": "push"})
    assert unreadable.status_code == 400
    incomplete = deliver(
        server, json.dumps({"repository": "/srv/x", "ref": "refs/heads/main"}).encode()
    )
    assert incomplete.status_code == 422
    assert [detail["path"] for detail in incomplete.json()["details"]] == ["/after"]
