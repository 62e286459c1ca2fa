"""Pipelines: a registered delivery pipeline (where its code lives) and how it is run.

The pipeline's steps are Python in its own repository (`file`, default `conveyor_pipeline.py`,
a module that defines `pipeline`); Conveyor only knows where to find it. See
`conveyor.domain.builds` for what one run of it records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from conveyor.domain.errors import Invalid, Violation
from conveyor.domain.limits import (
    MAX_BUILD_TIMEOUT_SECONDS,
    MAX_CONCURRENT_BUILDS,
    MAX_KEEP_BUILDS,
    MAX_KEEP_DAYS,
    MAX_PIPELINE_TEXT,
    MAX_POLL_SECONDS,
)

DEFAULT_PIPELINE_FILE = "conveyor_pipeline.py"
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Retention:
    """Which finished builds are kept: the newest `keep_builds`, and none older than
    `keep_days` (None: no limit of that kind)."""

    keep_builds: int | None = 500
    keep_days: int | None = None


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    repository: str
    """A git URL (`https://...`, `file:///...`, `git@...`) or a local directory path."""
    branch: str = "main"
    file: str = DEFAULT_PIPELINE_FILE
    secret: str | None = None
    """Verifies webhook signatures (GitHub/Gitea HMAC, GitLab token) for this pipeline."""
    poll_seconds: int | None = 60
    """Polling interval for new commits, the fallback when no webhook arrives; None: never."""
    max_concurrent_builds: int = 1
    build_timeout_seconds: int | None = None
    retention: Retention = Retention()
    created_at: datetime | None = None


def validate_pipeline_name(name: str) -> list[Violation]:
    if NAME_PATTERN.match(name):
        return []
    return [
        Violation(
            "/name",
            "must be 1-63 lowercase letters, digits and '-', starting and ending with a "
            "letter or digit",
        )
    ]


def check_pipeline(definition: PipelineDefinition) -> PipelineDefinition:
    """Raise Invalid naming every broken rule of a definition."""
    violations = validate_pipeline_name(definition.name)
    if not definition.repository.strip():
        violations.append(Violation("/repository", "must not be empty"))
    if not definition.branch.strip() or definition.branch.startswith("refs/"):
        violations.append(Violation("/branch", "must be a branch name such as 'main'"))
    if definition.file.startswith("/") or ".." in definition.file.split("/"):
        violations.append(Violation("/file", "must be a relative path inside the repository"))
    violations += _text_violations(definition) + _number_violations(definition)
    if violations:
        raise Invalid(violations)
    return definition


def _text_violations(definition: PipelineDefinition) -> list[Violation]:
    texts = (
        ("/repository", definition.repository),
        ("/branch", definition.branch),
        ("/file", definition.file),
        ("/secret", definition.secret or ""),
    )
    found = [
        Violation(path, "must not contain NUL characters") for path, text in texts if "\x00" in text
    ]
    found += [
        Violation(path, f"must be at most {MAX_PIPELINE_TEXT} characters long")
        for path, text in texts
        if len(text) > MAX_PIPELINE_TEXT
    ]
    return found


def _number_violations(definition: PipelineDefinition) -> list[Violation]:
    keep = definition.retention
    bounded = (
        ("/pollSeconds", definition.poll_seconds, MAX_POLL_SECONDS),
        ("/maxConcurrentBuilds", definition.max_concurrent_builds, MAX_CONCURRENT_BUILDS),
        ("/buildTimeoutSeconds", definition.build_timeout_seconds, MAX_BUILD_TIMEOUT_SECONDS),
        ("/retention/keepBuilds", keep.keep_builds, MAX_KEEP_BUILDS),
        ("/retention/keepDays", keep.keep_days, MAX_KEEP_DAYS),
    )
    return [
        Violation(path, f"got {value}, expected between 1 and {maximum}")
        for path, value, maximum in bounded
        if value is not None and not 1 <= value <= maximum
    ]
