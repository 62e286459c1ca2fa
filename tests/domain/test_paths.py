from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.limits import MAX_ID_LENGTH, MAX_ID_SEGMENT_LENGTH, MAX_ID_SEGMENTS
from conveyor.domain.paths import (
    ID_SEGMENT_PATTERN,
    is_under,
    is_valid_path,
    normalize_path,
    path_segments,
    path_violations,
)


@pytest.mark.parametrize(
    ("path", "base", "expected"),
    [
        ("web", "/prod", "/prod/web"),
        ("web", "/", "/web"),
        ("/web", "/prod", "/web"),
        ("../db", "/prod/web", "/prod/db"),
        ("./web", "/prod", "/prod/web"),
        ("/a/./b/../c", "/", "/a/c"),
        ("../../..", "/prod", "/"),
        ("/a//b/", "/", "/a/b"),
        ("web", "prod", "/prod/web"),
        ("", "/prod", "/prod"),
    ],
)
def test_relative_paths_resolve_against_the_base_group(path: str, base: str, expected: str) -> None:
    assert normalize_path(path, base) == expected


@pytest.mark.parametrize(
    "path", ["/web", "/prod/web-1", "/a.b/c", "/0", "/a/../b", "/prod/./web", "/x9.y-z"]
)
def test_lowercase_names_digits_hyphens_and_dots_are_valid(path: str) -> None:
    assert path_violations(path, at="/id") == []


@pytest.mark.parametrize("path", ["/Web", "/-web", "/web-", "/we_b", "/a b", "/a..b", "/é"])
def test_segments_outside_the_pattern_are_rejected_with_marathons_message(path: str) -> None:
    [violation] = path_violations(path, at="/id")
    assert violation.path == "/id"
    assert violation.error == f"must fully match regular expression '{ID_SEGMENT_PATTERN}'"
    assert "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*" in violation.error


@pytest.mark.parametrize("keyword", ["restart", "tasks", "versions"])
def test_reserved_keywords_may_not_end_a_path(keyword: str) -> None:
    [violation] = path_violations(f"/prod/{keyword}", at="/dependencies(0)")
    assert violation.path == "/dependencies(0)"
    assert violation.error == (
        "must not end with any of the following reserved keywords: restart, tasks, versions"
    )
    assert is_valid_path(f"/{keyword}/web")


@given(st.text(alphabet="ab./-", max_size=30), st.text(alphabet="ab./", max_size=20))
def test_normalized_paths_are_absolute_canonical_and_stable(path: str, base: str) -> None:
    normalized = normalize_path(path, base)
    assert normalized.startswith("/")
    assert not {".", ".."} & set(path_segments(normalized))
    assert "//" not in normalized
    assert normalize_path(normalized, "/elsewhere") == normalized


@pytest.mark.parametrize(
    ("path", "group", "under"),
    [
        ("/prod/web", "/prod", True),
        ("/prod/web/api", "/prod", True),
        ("/prod", "/prod", False),
        ("/production", "/prod", False),
        ("/prod", "/prod/web", False),
        ("/anything", "/", True),
    ],
)
def test_a_path_is_under_a_group_at_any_depth_but_not_the_group_itself(
    path: str, group: str, under: bool
) -> None:
    assert is_under(path, group) is under


def test_an_id_at_its_limits_is_valid() -> None:
    segment = "a" * MAX_ID_SEGMENT_LENGTH
    assert is_valid_path("/" + segment)
    assert is_valid_path("/a" * MAX_ID_SEGMENTS)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/a" * (MAX_ID_SEGMENTS + 1), f"must have at most {MAX_ID_SEGMENTS} path segments"),
        ("/" + "a" * (MAX_ID_SEGMENT_LENGTH + 1), "each path segment must be at most"),
        ("/abcdefghij" * 26, f"must be at most {MAX_ID_LENGTH} characters long"),
    ],
)
def test_an_id_past_its_limits_is_refused(path: str, error: str) -> None:
    errors = [violation.error for violation in path_violations(path, at="/id")]
    assert any(message.startswith(error) for message in errors), errors


def test_a_huge_id_is_judged_without_trying_the_pattern() -> None:
    hostile = "/" + "a-" * 100_000 + "!"
    errors = [violation.error for violation in path_violations(hostile, at="/id")]
    assert not any("regular expression" in message for message in errors)
