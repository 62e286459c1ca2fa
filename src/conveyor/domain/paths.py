"""Path ids: the slash-separated names of apps and groups, with Marathon's rules.

`web` in group `/prod` is `/prod/web`; `.` and `..` segments resolve; empty segments vanish
(`/a//b/` is `/a/b`). Each segment must fully match `ID_SEGMENT_PATTERN`, Marathon's regular
expression, and the last may not be one of the words the REST API reserves.
"""

from __future__ import annotations

import re

from conveyor.domain.errors import Violation

ID_SEGMENT_PATTERN = (
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$"
)
"""Marathon's pattern for one segment of a path id, as its error messages print it."""

RESERVED_KEYWORDS = ("restart", "tasks", "versions")

_SEGMENT = re.compile(ID_SEGMENT_PATTERN)


def path_segments(path: str) -> tuple[str, ...]:
    """The non-empty segments of `path`, as written (`.` and `..` included)."""
    return tuple(segment for segment in path.split("/") if segment)


def normalize_path(path: str, base: str = "/") -> str:
    """The absolute, canonical form of `path`; a relative path is read against group `base`.

    `normalize_path("web", "/prod")` is `/prod/web`, `normalize_path("../db", "/prod/web")` is
    `/prod/db`, `..` above the root stays at the root."""
    segments = path_segments(path)
    if not path.startswith("/"):
        segments = path_segments(normalize_path(base)) + segments
    resolved: list[str] = []
    for segment in segments:
        if segment == "..":
            if resolved:
                resolved.pop()
        elif segment != ".":
            resolved.append(segment)
    return "/" + "/".join(resolved)


def is_under(path: str, group: str) -> bool:
    """Whether `path` lies below the group `group`, at any depth (not `group` itself)."""
    return path != group and path.startswith(group.rstrip("/") + "/")


def path_violations(path: str, *, at: str) -> list[Violation]:
    """What is wrong with `path` as the id of an app or group (reported at `at`)."""
    violations: list[Violation] = []
    segments = path_segments(path)
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        violations.append(
            Violation(at, f"must fully match regular expression '{ID_SEGMENT_PATTERN}'")
        )
    if segments and segments[-1] in RESERVED_KEYWORDS:
        keywords = ", ".join(RESERVED_KEYWORDS)
        violations.append(
            Violation(at, f"must not end with any of the following reserved keywords: {keywords}")
        )
    return violations


def is_valid_path(path: str) -> bool:
    return not path_violations(path, at="/")
