"""The parts of a Marathon app definition that Conveyor stores and returns but does not act on.

Each is checked for the JSON shape Marathon 1.6–1.8 accepts and then kept verbatim (a copy), with
two normalizations Marathon also makes: a container's `type` is upper-cased (DOCKER when absent),
and the legacy `uris` list becomes `fetch` artifacts. Lists and maps Marathon leaves out of its
answers when empty (`fetch`, `secrets`, `readinessChecks`, `storeUrls`) are dropped when empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.json_fields import (
    FieldReader,
    Violations,
    copy_json,
    read_list,
    read_object,
    read_string,
    read_strings,
)

PASSTHROUGH_KEYS = (
    "container",
    "fetch",
    "secrets",
    "readinessChecks",
    "ipAddress",
    "networks",
    "residency",
    "unreachableStrategy",
    "acceptedResourceRoles",
    "storeUrls",
)
OMITTED_WHEN_EMPTY = frozenset({"fetch", "secrets", "readinessChecks", "storeUrls"})
CONTAINER_TYPES = ("DOCKER", "MESOS")
EXTRACTED_SUFFIXES = (".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip")

Check = Callable[[JsonValue, str, Violations], object]


def read_passthrough(
    document: JsonObject, fallback: Mapping[str, JsonValue], problems: Violations
) -> dict[str, JsonValue]:
    """The stored-verbatim fields: those in `document` replace `fallback`'s, the rest are kept.
    (`fetch` is read with `uris`, by `read_artifacts`.)"""
    stored = dict(fallback)
    fields = FieldReader(document, problems)
    for key in PASSTHROUGH_KEYS:
        if key == "fetch" or not fields.has(key):
            continue
        path = fields.path(key)
        value = document[key]
        if _CHECKS[key](value, path, problems) is None:
            continue
        copied = copy_json(value, path, problems)
        if key == "container" and isinstance(copied, dict):
            copied = _canonical_container(copied)
        if key in OMITTED_WHEN_EMPTY and not copied:
            stored.pop(key, None)
        else:
            stored[key] = copied
    return stored


def read_artifacts(
    document: JsonObject, problems: Violations
) -> tuple[tuple[str, ...], list[JsonValue]] | None:
    """What to fetch before a task starts, from `fetch` or the legacy `uris`: the URIs and the
    `fetch` artifacts. None when the document names neither."""
    fields = FieldReader(document, problems)
    if not (fields.has("uris") or fields.has("fetch")):
        return None
    no_uris: tuple[str, ...] = ()
    no_fetch: list[JsonObject] = []
    uris = fields.get("uris", read_strings, no_uris)
    fetch = fields.get("fetch", _check_fetch, no_fetch)
    if uris and fetch:
        problems.add("/uris", "may not be set in conjunction with fetch")
    if uris:
        return uris, [uri_artifact(uri) for uri in uris]
    copied = copy_json(document.get("fetch") if fetch else [], "/fetch", problems)
    artifacts = copied if isinstance(copied, list) else []
    return tuple(_artifact_uri(artifact) for artifact in artifacts), artifacts


def uri_artifact(uri: str) -> JsonValue:
    """Marathon's translation of one legacy URI into a fetch artifact."""
    extract = uri.lower().endswith(EXTRACTED_SUFFIXES)
    return {"uri": uri, "extract": extract, "executable": False, "cache": False}


def _artifact_uri(artifact: JsonValue) -> str:
    uri = artifact.get("uri") if isinstance(artifact, dict) else None
    return uri if isinstance(uri, str) else ""


def container_image(container: JsonValue) -> str | None:
    """The image a container runs: `docker.image`, or `appc.image` for the Mesos containerizer."""
    if not isinstance(container, dict):
        return None
    for engine in ("docker", "appc"):
        spec = container.get(engine)
        image = spec.get("image") if isinstance(spec, dict) else None
        if isinstance(image, str) and image:
            return image
    return None


def _canonical_container(container: JsonObject) -> JsonObject:
    kind = container.get("type")
    upper = kind.upper() if isinstance(kind, str) else "DOCKER"
    return {**container, "type": upper}


def _check_container(value: JsonValue, path: str, problems: Violations) -> JsonObject | None:
    container = read_object(value, path, problems)
    if container is None:
        return None
    before = len(problems.found)
    fields = FieldReader(container, problems, path)
    kind = fields.get("type", read_string, "DOCKER")
    if kind.upper() not in CONTAINER_TYPES:
        problems.add(fields.path("type"), "error.unknown.enum.literal")
    for engine in ("docker", "appc"):
        spec = fields.get(engine, read_object, None)
        if spec is not None:
            _check_image(FieldReader(spec, problems, fields.path(engine)))
    if kind.upper() == "DOCKER" and not fields.has("docker"):
        problems.add(fields.path("docker"), "must be defined")
    return container if len(problems.found) == before else None


def _check_image(spec: FieldReader) -> None:
    if not spec.has("image"):
        spec.problems.add(spec.path("image"), "error.path.missing")
    elif spec.get("image", read_string, None) == "":
        spec.problems.add(spec.path("image"), "must not be empty")


def _check_fetch(value: JsonValue, path: str, problems: Violations) -> list[JsonObject] | None:
    return read_list(value, path, problems, _check_artifact)


def _check_artifact(value: JsonValue, path: str, problems: Violations) -> JsonObject | None:
    artifact = read_object(value, path, problems)
    if artifact is None:
        return None
    fields = FieldReader(artifact, problems, path)
    if not fields.has("uri"):
        problems.add(fields.path("uri"), "error.path.missing")
        return None
    return artifact if fields.get("uri", read_string, None) is not None else None


def _check_secrets(value: JsonValue, path: str, problems: Violations) -> JsonObject | None:
    secrets = read_object(value, path, problems)
    if secrets is None:
        return None
    before = len(problems.found)
    for name, secret in secrets.items():
        definition = read_object(secret, f"{path}/{name}", problems)
        if definition is None:
            continue
        fields = FieldReader(definition, problems, f"{path}/{name}")
        if not fields.has("source"):
            problems.add(fields.path("source"), "error.path.missing")
        fields.get("source", read_string, None)
    return secrets if len(problems.found) == before else None


def _check_objects(value: JsonValue, path: str, problems: Violations) -> list[JsonObject] | None:
    return read_list(value, path, problems, read_object)


def _check_unreachable(value: JsonValue, path: str, problems: Violations) -> JsonValue:
    if value == "disabled":
        return value
    return read_object(value, path, problems)


_CHECKS: dict[str, Check] = {
    "container": _check_container,
    "fetch": _check_fetch,
    "secrets": _check_secrets,
    "readinessChecks": _check_objects,
    "ipAddress": read_object,
    "networks": _check_objects,
    "residency": read_object,
    "unreachableStrategy": _check_unreachable,
    "acceptedResourceRoles": read_strings,
    "storeUrls": read_strings,
}
