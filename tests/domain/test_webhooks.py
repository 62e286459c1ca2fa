"""Webhook deliveries: recognising pushes, checking signatures, matching pipelines.

The payloads are trimmed from the examples in GitHub's, GitLab's and Gitea's webhook
documentation.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.errors import Invalid, MalformedInput
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.domain.webhooks import (
    Ignored,
    Provider,
    Push,
    matching_pipelines,
    normalize_repository_url,
    parse_push,
    seen_commit_key,
    sign,
    verify_signature,
)

AFTER = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
BEFORE = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
ZERO = "0" * 40

GITHUB_PUSH: dict[str, Any] = {
    "ref": "refs/heads/main",
    "before": BEFORE,
    "after": AFTER,
    "created": False,
    "deleted": False,
    "forced": False,
    "repository": {
        "id": 186853002,
        "name": "Hello-World",
        "full_name": "Codertocat/Hello-World",
        "html_url": "https://github.com/Codertocat/Hello-World",
        "url": "https://api.github.com/repos/Codertocat/Hello-World",
        "git_url": "git://github.com/Codertocat/Hello-World.git",
        "ssh_url": "git@github.com:Codertocat/Hello-World.git",
        "clone_url": "https://github.com/Codertocat/Hello-World.git",
        "svn_url": "https://github.com/Codertocat/Hello-World",
        "default_branch": "main",
    },
    "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
    "sender": {"login": "Codertocat", "id": 21031067},
    "commits": [],
    "head_commit": None,
}

GITHUB_PING: dict[str, Any] = {
    "zen": "Encourage flow.",
    "hook_id": 2472869,
    "hook": {"type": "Repository", "events": ["push"], "active": True},
}

GITLAB_PUSH: dict[str, Any] = {
    "object_kind": "push",
    "event_name": "push",
    "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
    "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "ref": "refs/heads/master",
    "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "user_id": 4,
    "user_name": "John Smith",
    "user_username": "jsmith",
    "project_id": 15,
    "project": {
        "id": 15,
        "name": "Diaspora",
        "web_url": "http://example.com/mike/diaspora",
        "git_ssh_url": "git@example.com:mike/diaspora.git",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "namespace": "Mike",
        "path_with_namespace": "mike/diaspora",
        "default_branch": "master",
        "homepage": "http://example.com/mike/diaspora",
        "url": "git@example.com:mike/diaspora.git",
        "ssh_url": "git@example.com:mike/diaspora.git",
        "http_url": "http://example.com/mike/diaspora.git",
    },
    "repository": {
        "name": "Diaspora",
        "url": "git@example.com:mike/diaspora.git",
        "homepage": "http://example.com/mike/diaspora",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "git_ssh_url": "git@example.com:mike/diaspora.git",
    },
    "commits": [],
    "total_commits_count": 4,
}

GITEA_PUSH: dict[str, Any] = {
    "ref": "refs/heads/develop",
    "before": "28e1879d029cb852e4844d9c718537df08844e03",
    "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
    "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d...bffeb742",
    "commits": [],
    "repository": {
        "id": 140,
        "owner": {"id": 1, "login": "gitea", "username": "gitea"},
        "name": "webhooks",
        "full_name": "gitea/webhooks",
        "html_url": "http://localhost:3000/gitea/webhooks",
        "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "clone_url": "http://localhost:3000/gitea/webhooks.git",
        "default_branch": "master",
    },
    "pusher": {"id": 1, "login": "gitea", "username": "gitea"},
    "sender": {"id": 1, "login": "gitea", "username": "gitea"},
}

GITEA_HEADERS = {
    "X-GitHub-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
    "X-GitHub-Event": "push",
    "X-Gogs-Event": "push",
    "X-Gitea-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
    "X-Gitea-Event": "push",
}


def encoded(document: object) -> bytes:
    return json.dumps(document).encode()


def changed(document: dict[str, Any], **fields: object) -> bytes:
    return encoded({**document, **fields})


# GitHub


def test_github_push_names_every_url_of_the_repository_and_the_new_head() -> None:
    push = parse_push({"X-GitHub-Event": "push"}, encoded(GITHUB_PUSH))
    assert push == Push(
        provider=Provider.GITHUB,
        repository_urls=(
            "https://github.com/Codertocat/Hello-World.git",
            "git@github.com:Codertocat/Hello-World.git",
            "git://github.com/Codertocat/Hello-World.git",
            "https://github.com/Codertocat/Hello-World",
            "https://api.github.com/repos/Codertocat/Hello-World",
        ),
        ref="refs/heads/main",
        branch="main",
        after=AFTER,
        before=BEFORE,
        pusher="Codertocat",
    )


def test_github_ping_is_ignored() -> None:
    assert parse_push({"X-GitHub-Event": "ping"}, encoded(GITHUB_PING)) == Ignored(
        Provider.GITHUB, "ping"
    )


def test_other_github_events_are_ignored_without_reading_the_body() -> None:
    ignored = parse_push({"x-github-event": "issues"}, b"not even json")
    assert ignored == Ignored(Provider.GITHUB, "event 'issues'")


def test_a_tag_push_is_ignored() -> None:
    result = parse_push({"X-GitHub-Event": "push"}, changed(GITHUB_PUSH, ref="refs/tags/v1.0"))
    assert isinstance(result, Ignored)
    assert "refs/tags/v1.0" in result.reason


def test_a_deleted_branch_is_ignored() -> None:
    result = parse_push({"X-GitHub-Event": "push"}, changed(GITHUB_PUSH, after=ZERO, deleted=True))
    assert result == Ignored(Provider.GITHUB, "branch 'main' was deleted")


def test_a_new_branch_has_no_previous_head() -> None:
    body = changed(GITHUB_PUSH, before=ZERO, ref="refs/heads/feature/x")
    push = parse_push({"X-GitHub-Event": "push"}, body)
    assert isinstance(push, Push)
    assert (push.branch, push.before) == ("feature/x", None)


def test_a_form_encoded_github_delivery_is_read_from_its_payload_field() -> None:
    body = urlencode({"payload": json.dumps(GITHUB_PUSH)}).encode()
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}
    push = parse_push(headers, body)
    assert isinstance(push, Push)
    assert push.after == AFTER


# Gitea, GitLab, generic


def test_gitea_push_is_recognised_although_it_also_sends_github_headers() -> None:
    push = parse_push(GITEA_HEADERS, encoded(GITEA_PUSH))
    assert isinstance(push, Push)
    assert push.provider is Provider.GITEA
    assert push.repository_urls == (
        "http://localhost:3000/gitea/webhooks.git",
        "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "http://localhost:3000/gitea/webhooks",
    )
    assert (push.branch, push.after, push.pusher) == (
        "develop",
        "bffeb74224043ba2feb48d137756c8a9331c449a",
        "gitea",
    )


def test_gitlab_push_hook_names_project_and_repository_urls() -> None:
    push = parse_push({"X-Gitlab-Event": "Push Hook"}, encoded(GITLAB_PUSH))
    assert isinstance(push, Push)
    assert push.provider is Provider.GITLAB
    assert set(push.repository_urls) == {
        "http://example.com/mike/diaspora.git",
        "git@example.com:mike/diaspora.git",
        "http://example.com/mike/diaspora",
    }
    assert (push.branch, push.after, push.pusher) == (
        "master",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "jsmith",
    )


def test_gitlab_system_hook_push_is_a_push_and_other_system_events_are_ignored() -> None:
    system = {"X-Gitlab-Event": "System Hook"}
    assert isinstance(parse_push(system, encoded(GITLAB_PUSH)), Push)
    created = {"event_name": "project_create", "name": "StoreCloud", "path": "storecloud"}
    assert parse_push(system, encoded(created)) == Ignored(
        Provider.GITLAB, "event 'project_create'"
    )


def test_gitlab_tag_push_hook_is_ignored() -> None:
    result = parse_push({"X-Gitlab-Event": "Tag Push Hook"}, encoded(GITLAB_PUSH))
    assert result == Ignored(Provider.GITLAB, "event 'Tag Push Hook'")


def test_a_generic_body_without_provider_headers_is_a_push() -> None:
    body = encoded({"repository": "/srv/git/app", "ref": "refs/heads/main", "after": AFTER})
    assert parse_push({"Content-Type": "application/json"}, body) == Push(
        provider=Provider.GENERIC,
        repository_urls=("/srv/git/app",),
        ref="refs/heads/main",
        branch="main",
        after=AFTER,
    )


# malformed deliveries


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[1, 2]", b""])
def test_an_unreadable_body_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_push({"X-GitHub-Event": "push"}, body)


@pytest.mark.parametrize(
    ("headers", "body", "path"),
    [
        ({"X-GitHub-Event": "push"}, changed(GITHUB_PUSH, after="main"), "/after"),
        ({"X-GitHub-Event": "push"}, changed(GITHUB_PUSH, ref=None), "/ref"),
        ({"X-GitHub-Event": "push"}, changed(GITHUB_PUSH, repository="x"), "/repository"),
        ({"X-Gitea-Event": "push"}, changed(GITEA_PUSH, repository={}), "/repository"),
        (
            {"X-Gitlab-Event": "Push Hook"},
            changed(GITLAB_PUSH, project={}, repository={}),
            "/project",
        ),
        ({}, encoded({"ref": "refs/heads/main", "after": AFTER}), "/repository"),
        ({}, encoded({"repository": "/srv/app", "ref": "refs/heads/main"}), "/after"),
    ],
)
def test_a_payload_without_what_a_push_carries_names_the_field(
    headers: dict[str, str], body: bytes, path: str
) -> None:
    with pytest.raises(Invalid) as raised:
        parse_push(headers, body)
    assert [violation.path for violation in raised.value.violations] == [path]


# signatures


def hmac_hex(secret: str, body: bytes, digest: str) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


def test_each_providers_signature_header_is_verified() -> None:
    body, secret = encoded(GITHUB_PUSH), "It's a Secret to Everybody"
    accepted = [
        {"X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body, "sha256")},
        {"X-Hub-Signature": "sha1=" + hmac_hex(secret, body, "sha1")},
        {"X-Gitea-Signature": hmac_hex(secret, body, "sha256")},
        {"X-Gitlab-Token": secret},
        {"X-Conveyor-Signature": sign(body, secret)},
    ]
    for headers in accepted:
        assert verify_signature(headers, body, secret), headers
        assert not verify_signature(headers, body, "another secret"), headers


def test_a_delivery_without_a_signature_is_not_verified() -> None:
    assert not verify_signature({"X-GitHub-Event": "push"}, b"{}", "secret")


def test_an_empty_secret_verifies_nothing() -> None:
    assert not verify_signature({"X-Gitlab-Token": ""}, b"{}", "")
    assert not verify_signature({"X-Conveyor-Signature": sign(b"{}", "")}, b"{}", "")


def test_a_signature_of_another_kind_does_not_pass_for_a_token() -> None:
    body = b"{}"
    assert not verify_signature({"X-Gitlab-Token": sign(body, "s")}, body, "s")
    assert not verify_signature({"X-Hub-Signature-256": "s"}, body, "s")
    assert not verify_signature({"X-Hub-Signature-256": "sha256=zz\u00e9"}, body, "s")


@given(body=st.binary(), secret=st.text(min_size=1), other=st.binary())
def test_signed_bodies_verify_and_changed_bodies_do_not(
    body: bytes, secret: str, other: bytes
) -> None:
    headers = {"X-Conveyor-Signature": sign(body, secret)}
    assert verify_signature(headers, body, secret)
    assert verify_signature({"X-Hub-Signature-256": sign(body, secret)}, body, secret)
    assert verify_signature({"X-Gitea-Signature": sign(body, secret)[7:]}, body, secret)
    if other != body:
        assert not verify_signature(headers, other, secret)


@given(body=st.binary(), secret=st.text(min_size=1), guess=st.text())
def test_a_gitlab_token_verifies_only_when_it_is_the_secret(
    body: bytes, secret: str, guess: str
) -> None:
    assert verify_signature({"X-Gitlab-Token": guess}, body, secret) == (guess.strip() == secret)


# repository URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.org/org/repo.git",
        "https://git.example.org/org/repo",
        "https://Git.Example.org/org/repo/",
        "http://git.example.org:80/org/repo.git",
        "https://user:token@git.example.org/org/repo.git",
        "git@git.example.org:org/repo.git",
        "ssh://git@git.example.org/org/repo.git",
        "ssh://git@git.example.org:22/org/repo.git",
        "git://git.example.org/org/repo.git",
        "  https://git.example.org/org//repo.git/  ",
    ],
)
def test_spellings_of_one_remote_repository_compare_equal(url: str) -> None:
    assert normalize_repository_url(url) == "//git.example.org/org/repo"


@pytest.mark.parametrize(
    "url", ["file:///srv/git/repo", "/srv/git/repo", "/srv/git/repo.git/", "/srv/./git/repo"]
)
def test_spellings_of_one_local_repository_compare_equal(url: str) -> None:
    assert normalize_repository_url(url) == "file:///srv/git/repo"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://git.example.org/org/repo", "https://git.example.org/org/other"),
        ("https://git.example.org/org/repo", "https://example.org/org/repo"),
        ("https://git.example.org:8443/org/repo", "https://git.example.org/org/repo"),
        ("/srv/git/repo", "https://srv/git/repo"),
        ("/srv/git/Repo", "/srv/git/repo"),
    ],
)
def test_different_repositories_stay_different(one: str, other: str) -> None:
    assert normalize_repository_url(one) != normalize_repository_url(other)


@given(st.text())
def test_normalizing_twice_changes_nothing(url: str) -> None:
    once = normalize_repository_url(url)
    assert normalize_repository_url(once) == once


names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)


@given(host=names, org=names, repo=names)
def test_https_and_ssh_forms_name_the_same_repository(host: str, org: str, repo: str) -> None:
    host = f"{host}.example"
    forms = {
        f"https://{host}/{org}/{repo}.git",
        f"git@{host}:{org}/{repo}.git",
        f"ssh://git@{host.upper()}/{org}/{repo}/",
        f"//{host}/{org}/{repo}",
    }
    assert len({normalize_repository_url(form) for form in forms}) == 1


# matching


def pipeline(name: str, repository: str, branch: str = "main") -> PipelineDefinition:
    return PipelineDefinition(name=name, repository=repository, branch=branch)


def test_pipelines_of_the_pushed_repository_and_branch_match() -> None:
    push = parse_push({"X-GitHub-Event": "push"}, encoded(GITHUB_PUSH))
    assert isinstance(push, Push)
    pipelines = [
        pipeline("by-ssh", "git@github.com:Codertocat/Hello-World.git"),
        pipeline("by-https", "https://github.com/Codertocat/Hello-World"),
        pipeline("other-branch", "https://github.com/Codertocat/Hello-World", branch="dev"),
        pipeline("other-repo", "https://github.com/Codertocat/Goodbye-World"),
    ]
    assert [p.name for p in matching_pipelines(push, pipelines)] == ["by-ssh", "by-https"]


def test_a_local_pipeline_matches_a_generic_push_by_file_url() -> None:
    body = encoded({"repository": "file:///srv/git/app", "ref": "refs/heads/main", "after": AFTER})
    push = parse_push({}, body)
    assert isinstance(push, Push)
    assert matching_pipelines(push, [pipeline("app", "/srv/git/app/")]) == [
        pipeline("app", "/srv/git/app/")
    ]


def test_the_seen_commit_key_names_pipeline_and_branch() -> None:
    assert seen_commit_key("my-service", "main") == "git.seen:my-service:main"
