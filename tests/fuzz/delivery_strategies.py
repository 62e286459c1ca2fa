"""Hypothesis strategies for what reaches the pipeline side: git push deliveries (GitHub, Gitea,
GitLab and generic shapes) and pipeline registrations, with hostile values."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.fuzz.app_strategies import hostile_app_mutations
from tests.fuzz.referee import SEED_PIPELINE
from tests.fuzz.strategies import (
    hostile_scalars,
    hostile_values,
    huge_numbers,
    one_in,
    printable,
    wrong_types,
)

SEED_PIPELINE_REPOSITORY: str = SEED_PIPELINE["repository"]


# --- git push deliveries --------------------------------------------------------------------

shas = st.one_of(
    st.text("0123456789abcdef", min_size=40, max_size=40),
    st.just("0" * 40),
    st.text("0123456789abcdefABCDEF", min_size=4, max_size=64),
    hostile_scalars,
)
refs = st.one_of(
    st.sampled_from(["refs/heads/main", "refs/tags/v1", "refs/heads/", "main", "refs/heads/../x"]),
    printable.map(lambda text: "refs/heads/" + text),
    hostile_scalars,
)
repository_urls = st.one_of(
    st.sampled_from(
        [
            SEED_PIPELINE_REPOSITORY,
            "https://git.invalid/fuzz/seed",
            "/nonexistent/other.git",
            "https://git.invalid/fuzz/seed.git",
            "git@git.invalid:fuzz/seed.git",
            "ssh://git@git.invalid:22/fuzz/seed",
            "//",
            "",
        ]
    ),
    printable,
    hostile_scalars,
)


@st.composite
def push_deliveries(draw: st.DrawFn) -> tuple[dict[str, str], Any]:
    """Headers and body of a delivery in GitHub's, Gitea's, GitLab's or the generic shape,
    with hostile values; never signed with the seed pipeline's secret."""
    provider = draw(st.sampled_from(["github", "gitea", "gitlab", "generic"]))
    url = draw(repository_urls)
    body: dict[str, Any] = {"ref": draw(refs), "after": draw(shas), "before": draw(shas)}
    headers: dict[str, str] = {}
    if provider in ("github", "gitea"):
        event = draw(st.sampled_from(["push", "push", "ping", "issues"]))
        headers["x-github-event"] = event
        if provider == "gitea":
            headers["x-gitea-event"] = event
        body["repository"] = draw(
            st.one_of(st.fixed_dictionaries({"clone_url": st.just(url)}), hostile_values)
        )
        body["pusher"] = draw(st.one_of(st.fixed_dictionaries({"name": printable}), wrong_types))
    elif provider == "gitlab":
        headers["x-gitlab-event"] = draw(st.sampled_from(["Push Hook", "System Hook", "Tag"]))
        body["object_kind"] = draw(st.sampled_from(["push", "tag_push", None]))
        body["project"] = draw(
            st.one_of(st.fixed_dictionaries({"git_http_url": st.just(url)}), hostile_values)
        )
    else:
        body["repository"] = url
    signature = draw(st.sampled_from(["", "sha256=", "sha256=00", "sha1=zz", "x" * 300]))
    if signature:
        headers["x-hub-signature-256"] = signature
    if one_in(draw, 4):
        body = draw(hostile_app_mutations(body))
    return headers, body


# --- pipelines ------------------------------------------------------------------------------

pipeline_names = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).map(lambda n: "fz-" + n),
    st.sampled_from(["", "-", "UPPER", "a" * 64, "fuzz-seed", "a/b", "..", "a\x00"]),
    printable,
)
PIPELINE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "branch": st.sampled_from(["main", "refs/heads/main", "", "  ", "-x", "a..b"]),
    "file": st.sampled_from(["pipeline.py", "/etc/passwd", "../x.py", "a/../../b.py", ""]),
    "secret": st.one_of(st.none(), printable),
    "pollSeconds": st.one_of(st.none(), st.integers(-5, 5), huge_numbers),
    "maxConcurrentBuilds": st.one_of(st.integers(-2, 3), huge_numbers),
    "buildTimeoutSeconds": st.one_of(st.none(), st.integers(-2, 3), huge_numbers),
    "retention": st.fixed_dictionaries(
        {},
        optional={
            "keepBuilds": st.one_of(st.none(), st.integers(-2, 3), huge_numbers),
            "keepDays": st.one_of(st.none(), st.integers(-2, 3), huge_numbers),
        },
    ),
}


@st.composite
def pipeline_bodies(draw: st.DrawFn) -> Any:
    """A pipeline registration whose repository, when accepted, is one no poll can reach: a
    scheme git has no transport for, or a path that does not exist."""
    body: dict[str, Any] = {
        "name": draw(pipeline_names),
        "repository": draw(
            st.sampled_from(
                ["fuzz://git.invalid/fz.git", "/nonexistent/fz.git", "", " ", "-u", "ext::x", "a/b"]
            )
        ),
        "pollSeconds": None,
    }
    for name in draw(st.lists(st.sampled_from(sorted(PIPELINE_FIELDS)), max_size=4, unique=True)):
        body[name] = draw(PIPELINE_FIELDS[name])
    if one_in(draw, 3):
        return draw(hostile_app_mutations(body))
    return body
