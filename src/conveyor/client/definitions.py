"""What the client knows of a Marathon app definition before sending it: the fields the server
reads, the status fields a `GET /v2/apps/{id}` adds, and which of a definition's fields are
neither (a typo, most likely, that the server would silently ignore, as Marathon does).

`DEFINITION_FIELDS` is a copy of the server's `conveyor.domain.app_json.APP_DOCUMENT_KEYS`
(the client imports nothing of the server); a test keeps the two equal."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFINITION_FIELDS = frozenset(
    {
        "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd",
        "constraints", "container", "cpus", "dependencies", "disk", "env", "executor", "fetch",
        "gpus", "healthChecks", "id", "instances", "ipAddress", "killSelection", "labels",
        "maxLaunchDelaySeconds", "mem", "networks", "portDefinitions", "ports",
        "readinessChecks", "requirePorts", "residency", "secrets", "storeUrls",
        "taskKillGracePeriodSeconds", "unreachableStrategy", "upgradeStrategy", "uris", "user",
        "version",
    }
)  # fmt: skip
"""The fields of an app definition the server reads."""

STATUS_FIELDS = frozenset(
    {
        "tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
        "deployments", "versionInfo", "lastTaskFailure", "readinessCheckResults", "taskStats",
        "servicePorts",
    }
)  # fmt: skip
"""What `GET /v2/apps/{id}` shows besides the definition: a definition saved from it may carry
them, and the server ignores them."""


@dataclass(frozen=True)
class UnknownField:
    name: str
    suggestion: str | None
    """The known field it most resembles (`instance` → `instances`), if one is close."""

    def warning(self) -> str:
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"unknown field '{self.name}'{hint}: the server ignores it"


def unknown_fields(definition: Mapping[str, Any]) -> list[UnknownField]:
    """The top-level fields of `definition` that the server neither reads nor shows."""
    known = DEFINITION_FIELDS | STATUS_FIELDS
    return [
        UnknownField(name, next(iter(difflib.get_close_matches(name, known, n=1)), None))
        for name in definition
        if name not in known
    ]
