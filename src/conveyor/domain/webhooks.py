"""Git webhooks: what a push announced, whether the sender knew the pipeline's secret, and which
pipelines it concerns. Pure: the route in `conveyor.api.hooks` reads the request, this decides.

Recognised senders, by header:

    X-Gitea-Event: push             Gitea (it sends X-GitHub-Event too, so it is checked first)
    X-GitHub-Event: push | ping     GitHub
    X-Gitlab-Event: Push Hook       GitLab (project hooks), `System Hook` with event_name=push
    (none of them)                  generic: {"repository": URL, "ref": ..., "after": SHA}

Signatures: `X-Hub-Signature-256: sha256=<hex>` (GitHub, newer Gitea), `X-Hub-Signature:
sha1=<hex>` (GitHub, legacy), `X-Gitea-Signature: <hex>`, `X-Gitlab-Token: <secret>`,
`X-Conveyor-Signature: sha256=<hex>` (generic). Each HMAC is over the raw body.
"""

from __future__ import annotations

import hmac
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs

from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import Invalid, MalformedInput, Violation
from conveyor.domain.json_text import parse_json
from conveyor.domain.pipelines import PipelineDefinition

BRANCH_PREFIX = "refs/heads/"
SHA_PATTERN = re.compile(r"^[0-9a-fA-F]{4,64}$")
SCHEME_PATTERN = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
SCP_PATTERN = re.compile(r"^(?:[^@/]*@)?([^:/]+):(.*)$", re.DOTALL)
DEFAULT_PORTS = {"http": "80", "https": "443", "ssh": "22", "git+ssh": "22", "git": "9418"}
HMAC_HEADERS = (
    ("x-hub-signature-256", "sha256=", "sha256"),
    ("x-conveyor-signature", "sha256=", "sha256"),
    ("x-gitea-signature", "", "sha256"),
    ("x-hub-signature", "sha1=", "sha1"),
)
GITHUB_URL_FIELDS = ("clone_url", "ssh_url", "git_url", "html_url", "svn_url", "url")
GITEA_URL_FIELDS = ("clone_url", "ssh_url", "html_url")
GITLAB_URL_FIELDS = ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url", "url")


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    GENERIC = "generic"


@dataclass(frozen=True)
class Push:
    """Commits pushed to a branch: `after` is its new head."""

    provider: Provider
    repository_urls: tuple[str, ...]
    """Every form of the repository's URL the payload names (https, ssh, git, web)."""
    ref: str
    branch: str
    after: str
    before: str | None = None
    """The previous head; None for a new branch."""
    pusher: str | None = None


@dataclass(frozen=True)
class Ignored:
    """A delivery that asks for nothing: a ping, a tag, a deleted branch, another event."""

    provider: Provider | None
    reason: str


def seen_commits_prefix(pipeline: str) -> str:
    """The prefix of the pipeline's `seen_commit_key`s, of every branch."""
    return f"git.seen:{pipeline}:"


def seen_commit_key(pipeline: str, branch: str) -> str:
    """The store value (`tx.get_value`) holding the last commit requested for a pipeline's
    branch: shared by the webhook route, `request_build` and the git watcher."""
    return f"{seen_commits_prefix(pipeline)}{branch}"


def polling_error_key(pipeline: str) -> str:
    """The store value holding why the pipeline's last poll failed (`{"at", "message"}`);
    absent while polling works."""
    return f"git.polling-error:{pipeline}"


def parse_push(headers: Mapping[str, str], body: bytes) -> Push | Ignored:
    """What a delivery announced. Raises MalformedInput for an unreadable body and Invalid
    naming the field for a payload that lacks what a push must carry."""
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    if "x-gitea-event" in lowered:
        return _parse_gitea(lowered["x-gitea-event"], lowered, body)
    if "x-github-event" in lowered:
        return _parse_github(lowered["x-github-event"], lowered, body)
    if "x-gitlab-event" in lowered:
        return _parse_gitlab(lowered["x-gitlab-event"], lowered, body)
    document = _read_document(lowered, body)
    urls = _urls_at("/repository", [document.get("repository")])
    return _push_from(Provider.GENERIC, document, urls, _text(document.get("pusher")))


def _parse_github(event: str, headers: Mapping[str, str], body: bytes) -> Push | Ignored:
    if event != "push":
        return Ignored(Provider.GITHUB, "ping" if event == "ping" else f"event {event!r}")
    document = _read_document(headers, body)
    repository = _object_at(document, "repository")
    urls = _urls_at("/repository", [repository.get(f) for f in GITHUB_URL_FIELDS])
    pusher = _first_text(_object_or_empty(document.get("pusher")), ("name", "login"))
    return _push_from(Provider.GITHUB, document, urls, pusher)


def _parse_gitea(event: str, headers: Mapping[str, str], body: bytes) -> Push | Ignored:
    if event != "push":
        return Ignored(Provider.GITEA, f"event {event!r}")
    document = _read_document(headers, body)
    repository = _object_at(document, "repository")
    urls = _urls_at("/repository", [repository.get(f) for f in GITEA_URL_FIELDS])
    pusher_fields = ("login", "username", "name")
    pusher = _first_text(_object_or_empty(document.get("pusher")), pusher_fields)
    return _push_from(Provider.GITEA, document, urls, pusher)


def _parse_gitlab(event: str, headers: Mapping[str, str], body: bytes) -> Push | Ignored:
    if event not in ("Push Hook", "System Hook"):
        return Ignored(Provider.GITLAB, f"event {event!r}")
    document = _read_document(headers, body)
    kind = document.get("event_name", document.get("object_kind"))
    if kind != "push":
        return Ignored(Provider.GITLAB, f"event {kind!r}")
    candidates: list[JsonValue] = []
    for part in ("project", "repository"):
        section = _object_or_empty(document.get(part))
        candidates.extend(section.get(f) for f in (*GITLAB_URL_FIELDS, "homepage"))
    urls = _urls_at("/project", candidates)
    pusher = _first_text(document, ("user_username", "user_name"))
    return _push_from(Provider.GITLAB, document, urls, pusher)


def _push_from(
    provider: Provider, document: JsonObject, urls: tuple[str, ...], pusher: str | None
) -> Push | Ignored:
    ref = document.get("ref")
    if not isinstance(ref, str) or not ref:
        raise Invalid([Violation("/ref", "must be a git ref such as 'refs/heads/main'")])
    if not ref.startswith(BRANCH_PREFIX):
        return Ignored(provider, f"ref {ref!r} is not a branch")
    after = _sha_at(document, "after")
    if after is None:
        raise Invalid([Violation("/after", "must be the commit sha the branch now points to")])
    if set(after) == {"0"}:
        return Ignored(provider, f"branch {ref.removeprefix(BRANCH_PREFIX)!r} was deleted")
    before = _sha_at(document, "before")
    return Push(
        provider=provider,
        repository_urls=urls,
        ref=ref,
        branch=ref.removeprefix(BRANCH_PREFIX),
        after=after,
        before=None if before is None or set(before) == {"0"} else before,
        pusher=pusher,
    )


def _read_document(headers: Mapping[str, str], body: bytes) -> JsonObject:
    """The JSON payload; GitHub's form encoding (`payload=<json>`) is unwrapped."""
    try:
        text = body.decode()
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            text = parse_qs(text).get("payload", [""])[0]
    except UnicodeDecodeError as error:
        raise MalformedInput(f"Unparsable JSON: {error}") from error
    document = parse_json(text)
    if not isinstance(document, dict):
        raise MalformedInput("Expected a JSON object")
    return document


def _object_at(document: JsonObject, field: str) -> JsonObject:
    value = document.get(field)
    if not isinstance(value, dict):
        raise Invalid([Violation(f"/{field}", "must be an object")])
    return value


def _object_or_empty(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _text(value: JsonValue) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_text(section: JsonObject, fields: Iterable[str]) -> str | None:
    return next((t for t in (_text(section.get(f)) for f in fields) if t is not None), None)


def _urls_at(path: str, candidates: Iterable[JsonValue]) -> tuple[str, ...]:
    urls = tuple(dict.fromkeys(url for url in map(_text, candidates) if url is not None))
    if not urls:
        raise Invalid([Violation(path, "must name the repository's URL")])
    return urls


def _sha_at(document: JsonObject, field: str) -> str | None:
    value = document.get(field)
    if isinstance(value, str) and SHA_PATTERN.match(value):
        return value.lower()
    return None


def sign(body: bytes, secret: str) -> str:
    """The `X-Conveyor-Signature` (and `X-Hub-Signature-256`) value for a body: `sha256=<hex>`."""
    return "sha256=" + _hmac_hex(body, secret, "sha256")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """True when a signature header of the delivery proves the sender knows `secret` (an empty
    secret proves nothing: never)."""
    if not secret:
        return False
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    for header, prefix, digest in HMAC_HEADERS:
        given = lowered.get(header)
        expected = prefix + _hmac_hex(body, secret, digest)
        if given is not None and _same_text(given.lower(), expected):
            return True
    token = lowered.get("x-gitlab-token")
    return token is not None and _same_text(token, secret)


def _hmac_hex(body: bytes, secret: str, digest: str) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


def _same_text(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def normalize_repository_url(url: str) -> str:
    """A key under which every spelling of one repository compares equal:

    `https://Host/org/repo.git`, `git@host:org/repo`, `ssh://git@host/org/repo/` → `//host/org/repo`
    `file:///srv/repo`, `/srv/repo/`, `/srv/./repo.git`                         → `file:///srv/repo`

    Scheme, userinfo, default ports, `.git` and trailing slashes are dropped, the host is
    lowercased; a local path is taken as written (nothing on disk is read).
    """
    text = url.strip()
    if text.startswith("//"):
        return _network_key("", text[2:])
    scheme_match = SCHEME_PATTERN.match(text)
    if scheme_match is not None:
        scheme, rest = scheme_match.group(1).lower(), scheme_match.group(2)
        if scheme == "file":
            return _local_key("/" + rest.partition("/")[2])
        return _network_key(scheme, rest)
    scp_match = SCP_PATTERN.match(text)
    if scp_match is not None:
        return _network_key("ssh", scp_match.group(1) + "/" + scp_match.group(2))
    return _local_key(text)


def _network_key(scheme: str, rest: str) -> str:
    netloc, _, path = rest.partition("/")
    host_port = netloc.rpartition("@")[2].lower()
    host, port = host_port, ""
    if not host_port.endswith("]") and ":" in host_port:
        host, _, port = host_port.rpartition(":")
    if port == DEFAULT_PORTS.get(scheme) or not port:
        host_port = host
    return "//" + host_port.strip() + _clean_path("/" + path)


def _local_key(path: str) -> str:
    cleaned = _clean_path(path)
    if path.startswith("/"):
        return "file://" + (cleaned or "/")
    if SCP_PATTERN.match(cleaned) or cleaned[:1].isspace():
        return "./" + cleaned  # as git reads it: `foo:bar` would be a host, `./foo:bar` is not
    return cleaned or "."


def _clean_path(path: str) -> str:
    """Collapse slashes and dots, then drop trailing `/` and `.git` until nothing changes."""
    while True:
        cleaned = re.sub("/+", "/", path)
        cleaned = posixpath.normpath(cleaned) if cleaned else cleaned
        cleaned = cleaned.rstrip().rstrip("/").removesuffix(".git").rstrip("/")
        cleaned = "" if cleaned == "." else cleaned
        if cleaned == path:
            return cleaned
        path = cleaned


def matching_pipelines(
    push: Push, pipelines: Iterable[PipelineDefinition]
) -> list[PipelineDefinition]:
    """The pipelines that build the pushed branch of the pushed repository."""
    keys = {normalize_repository_url(url) for url in push.repository_urls}
    return [
        pipeline
        for pipeline in pipelines
        if pipeline.branch == push.branch and normalize_repository_url(pipeline.repository) in keys
    ]
