"""Path ids: the slash-separated names of apps and groups, with Marathon's rules.

`web` in group `/prod` is `/prod/web`; `.` and `..` segments resolve; empty segments vanish
(`/a//b/` is `/a/b`). Each segment must fully match `ID_SEGMENT_PATTERN`, Marathon's regular
expression, and the last may not be one of the words the REST API reserves.
"""

from __future__ import annotations

import re

from conveyor.domain.errors import Violation
from conveyor.domain.limits import MAX_ID_LENGTH, MAX_ID_SEGMENT_LENGTH, MAX_ID_SEGMENTS

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
    segments = path_segments(path)
    too_big = size_violations(path, segments, at=at)
    if too_big:
        return too_big  # the pattern is not tried on text this long
    violations: list[Violation] = []
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


def size_violations(path: str, segments: tuple[str, ...], *, at: str) -> list[Violation]:
    """The limits of `domain/limits.py` on an id: its length, depth and segment length."""
    violations: list[Violation] = []
    if len(path) > MAX_ID_LENGTH:
        violations.append(Violation(at, f"must be at most {MAX_ID_LENGTH} characters long"))
    if len(segments) > MAX_ID_SEGMENTS:
        violations.append(Violation(at, f"must have at most {MAX_ID_SEGMENTS} path segments"))
    if any(len(segment) > MAX_ID_SEGMENT_LENGTH for segment in segments):
        message = f"each path segment must be at most {MAX_ID_SEGMENT_LENGTH} characters long"
        violations.append(Violation(at, message))
    return violations


def is_valid_path(path: str) -> bool:
    return not path_violations(path, at="/")
