"""The sizes an app definition may have, checked on the document before it is read: collections
within their counts, strings within their lengths, environment names a process can be given, and
no NUL character anywhere (no program can receive one in an argument or a variable).

Each problem is a `Violation` at the field's path, so the caller gets Marathon's 422 naming it.
"""

from __future__ import annotations

from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Violation
from conveyor.domain.json_fields import INT32_MAX
from conveyor.domain.json_text import string_paths
from conveyor.domain.limits import (
    MAX_ARGS,
    MAX_CMD_BYTES,
    MAX_CONSTRAINTS,
    MAX_DEPENDENCIES,
    MAX_ENV_NAME_LENGTH,
    MAX_ENV_TOTAL_BYTES,
    MAX_ENV_VALUE_BYTES,
    MAX_ENV_VARIABLES,
    MAX_HEALTH_CHECKS,
    MAX_INSTANCES,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_BYTES,
    MAX_LABELS,
    MAX_PORTS,
    MAX_URIS,
)

NO_NUL = "must not contain NUL characters"

COLLECTION_LIMITS = {
    "args": MAX_ARGS,
    "healthChecks": MAX_HEALTH_CHECKS,
    "constraints": MAX_CONSTRAINTS,
    "portDefinitions": MAX_PORTS,
    "ports": MAX_PORTS,
    "dependencies": MAX_DEPENDENCIES,
    "uris": MAX_URIS,
    "fetch": MAX_URIS,
    "env": MAX_ENV_VARIABLES,
    "labels": MAX_LABELS,
}


def size_violations(document: JsonObject) -> list[Violation]:
    """What in `document` is too big, or holds a NUL; empty when nothing is."""
    found = [Violation(path, NO_NUL) for path in string_paths(document, _has_nul)]
    for key, limit in COLLECTION_LIMITS.items():
        value = document.get(key)
        if isinstance(value, list | dict) and len(value) > limit:
            found.append(Violation(f"/{key}", f"must have at most {limit} entries"))
    instances = document.get("instances")
    if isinstance(instances, int | float) and MAX_INSTANCES < instances <= INT32_MAX:
        message = f"got {instances}, expected {MAX_INSTANCES} or less"
        found.append(Violation("/instances", message))
    cmd = document.get("cmd")
    if isinstance(cmd, str) and _size(cmd) > MAX_CMD_BYTES:
        found.append(Violation("/cmd", f"must be at most {MAX_CMD_BYTES} bytes long"))
    env = document.get("env")
    if isinstance(env, dict):
        found += _env_violations(env)
    labels = document.get("labels")
    if isinstance(labels, dict):
        found += _label_violations(labels)
    return found


def _env_violations(env: dict[str, JsonValue]) -> list[Violation]:
    found: list[Violation] = []
    total = 0
    for name, value in env.items():
        path = f"/env/{name}"
        if not name:
            found.append(Violation("/env", "a variable name must not be empty"))
        if "=" in name:
            found.append(Violation(path, "a variable name must not contain '='"))
        if len(name) > MAX_ENV_NAME_LENGTH:
            message = f"a variable name must be at most {MAX_ENV_NAME_LENGTH} characters long"
            found.append(Violation("/env", message))
        size = _size(value) if isinstance(value, str) else 0
        if size > MAX_ENV_VALUE_BYTES:
            found.append(Violation(path, f"must be at most {MAX_ENV_VALUE_BYTES} bytes long"))
        total += _size(name) + size
    if total > MAX_ENV_TOTAL_BYTES:
        message = f"names and values together must be at most {MAX_ENV_TOTAL_BYTES} bytes"
        found.append(Violation("/env", message))
    return found


def _label_violations(labels: dict[str, JsonValue]) -> list[Violation]:
    found: list[Violation] = []
    for key, value in labels.items():
        path = f"/labels/{key}"
        if len(key) > MAX_LABEL_KEY_LENGTH:
            message = f"a key must be at most {MAX_LABEL_KEY_LENGTH} characters long"
            found.append(Violation("/labels", message))
        if isinstance(value, str) and _size(value) > MAX_LABEL_VALUE_BYTES:
            found.append(Violation(path, f"must be at most {MAX_LABEL_VALUE_BYTES} bytes long"))
    return found


def _has_nul(text: str) -> bool:
    return "\x00" in text


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
