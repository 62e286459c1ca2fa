"""What the server can tell about a pipeline's repository when it is on this machine (a path or
a `file://` URL): that it exists and is a git repository and where its branch is (when a
pipeline is registered), and that a commit asked for is in it (when a build is triggered). A
remote repository is not contacted here: its problems show as the pipeline's polling error or
the build's failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from conveyor.domain.errors import Invalid, Violation

REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/:]+:")
"""`scheme://...` or git's scp-like `[user@]host:path` (a colon before any slash)."""
GIT_SECONDS = 10.0


def local_path(repository: str) -> Path | None:
    """The directory a local repository is in; None for a remote one."""
    if repository.startswith("file://"):
        return Path(unquote(urlparse(repository).path))
    if REMOTE.match(repository):
        return None
    return Path(repository)


def _git_dir(directory: Path) -> Path | None:
    """The git directory of a work tree or a bare repository; None when it is neither."""
    if (directory / ".git").exists():
        return directory / ".git"
    if (directory / "HEAD").is_file() and (directory / "objects").is_dir():
        return directory
    return None


def check_repository(repository: str) -> None:
    """Invalid (`/repository`) for a local repository that is not there or not a git
    repository, or a path that is not absolute."""
    directory = local_path(repository)
    if directory is None:
        return
    if not directory.is_absolute():
        rule = "must be a git URL or an absolute path (the server's working directory is not yours)"
        raise Invalid([Violation("/repository", rule)])
    if not directory.exists():
        raise Invalid([Violation("/repository", f"{directory} does not exist")])
    if not directory.is_dir() or _git_dir(directory) is None:
        raise Invalid([Violation("/repository", f"{directory} is not a git repository")])


async def resolve_commit(repository: str, commit: str) -> str | None:
    """The full id of `commit` in a local repository; None when the server cannot tell (a
    remote one). Invalid (`/commit`) when the repository has no such commit."""
    directory = local_path(repository)
    git_dir = None if directory is None else _git_dir(directory)
    if git_dir is None:
        return None
    if commit.startswith("-"):
        raise Invalid([Violation("/commit", "must be a commit id, not an option")])
    found = await _rev_parse(git_dir, f"{commit}^{{commit}}")
    if found == "":
        raise Invalid([Violation("/commit", f"{repository} has no commit {commit}")])
    return found


async def local_branch_head(repository: str, branch: str) -> str | None:
    """The commit `branch` points to in a local repository; None for a remote repository, a
    branch it does not have, or no answer in time."""
    directory = local_path(repository)
    git_dir = None if directory is None else _git_dir(directory)
    if git_dir is None or branch.startswith("-"):
        return None
    return await _rev_parse(git_dir, f"refs/heads/{branch}^{{commit}}") or None


async def _rev_parse(git_dir: Path, revision: str) -> str | None:
    """The commit id; "" when there is no such commit; None when git did not answer in time."""
    process = await asyncio.create_subprocess_exec(
        "git",
        f"--git-dir={git_dir}",
        "rev-parse",
        "--verify",
        "--quiet",
        revision,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), GIT_SECONDS)
    except TimeoutError:
        return None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return stdout.decode().strip() if process.returncode == 0 else ""
