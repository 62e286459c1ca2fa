"""Git: the build's commit checked out, by the `git` CLI.

`git_checkout` is the step a pipeline uses to get its code into the workspace; the worker uses
`check_out_source` to get the pipeline file itself (at the build's commit) before anything runs.
A repository is a git URL or a local path.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, overload

from conveyor.domain.builds import Detail, StepStatus
from conveyor.pipelines.context import Context
from conveyor.pipelines.shell import shell
from conveyor.pipelines.steps import StepFunction, StepResult

GIT_ENVIRONMENT = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
ALL_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"


class SourceError(Exception):
    """The repository could not be cloned, fetched or checked out."""


def _git(directory: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(directory), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENVIRONMENT},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if completed.returncode != 0:
        error = completed.stderr.strip() or completed.stdout.strip()
        raise SourceError(f"git {' '.join(arguments)}: {error}")
    return completed.stdout.strip()


FULL_COMMIT = re.compile(r"[0-9a-f]{40}")


def check_out_source(repository: str, branch: str, commit: str | None, directory: Path) -> str:
    """Clone (or fetch) `repository` into `directory` and check out `commit`, or the head of
    `branch` when None; returns the full commit id. A fresh directory takes one clone and one
    checkout: the fewest git processes, since this is on the way to a build's first step."""
    if not (directory / ".git").exists():
        directory.mkdir(parents=True, exist_ok=True)
        _git(directory, "clone", "--quiet", "--no-checkout", repository, ".")
    else:
        _git(directory, "remote", "set-url", "origin", repository)
        _git(directory, "fetch", "--quiet", "--prune", "origin", ALL_BRANCHES)
    target = commit or f"refs/remotes/origin/{branch}"
    try:
        _git(directory, "checkout", "--quiet", "--force", "--detach", target)
    except SourceError:
        if commit is None:
            raise
        try:  # not on any branch fetched
            _git(directory, "fetch", "--quiet", "origin", commit)
            _git(directory, "checkout", "--quiet", "--force", "--detach", target)
        except SourceError as error:
            raise SourceError(f"there is no commit {commit} in {repository} ({error})") from None
    if commit is not None and FULL_COMMIT.fullmatch(commit):
        return commit
    return _git(directory, "rev-parse", "HEAD")


def _checkout_script(repository: str, commit: str) -> str:
    repo, target = shlex.quote(repository), shlex.quote(commit)
    return "\n".join(
        [
            "[ -d .git ] || git init --quiet",
            f"git remote add origin {repo} 2>/dev/null || git remote set-url origin {repo}",
            f"git fetch --quiet origin {shlex.quote(ALL_BRANCHES)}",
            f"git cat-file -e {target}^{{commit}} 2>/dev/null || git fetch --quiet origin {target}",
            f"git checkout --quiet --force --detach {target}",
            "echo checked out $(git rev-parse HEAD)",
        ]
    )


def _check_out(ctx: Context) -> StepResult:
    if not ctx.repository or not ctx.commit:
        return StepResult(StepStatus.FAILURE, message="the build names no repository and commit")
    ctx.working_directory.mkdir(parents=True, exist_ok=True)
    result = shell(ctx, _checkout_script(ctx.repository, ctx.commit), env=GIT_ENVIRONMENT)
    if not result.is_success:
        return result
    return StepResult(StepStatus.SUCCESS, details=(Detail("commit", raw=ctx.commit),))


@overload
def git_checkout() -> StepFunction: ...
@overload
def git_checkout(args_or_ctx: Context) -> StepResult: ...
@overload
def git_checkout(args_or_ctx: Mapping[str, Any], ctx: Context) -> StepResult: ...


def git_checkout(
    args_or_ctx: Context | Mapping[str, Any] | None = None, ctx: Context | None = None
) -> StepResult | StepFunction:
    """Check the build's commit out into the working directory (the workspace, or `in_cwd`'s).

    Three ways to use it: `git_checkout()` is a step; `git_checkout` itself is a step; and
    `git_checkout(ctx)` inside a step of your own does it there."""
    if isinstance(args_or_ctx, Context):
        return _check_out(args_or_ctx)
    if ctx is not None:
        return _check_out(ctx)

    def git_checkout(args: Mapping[str, Any], ctx: Context) -> StepResult:
        return _check_out(ctx)

    return git_checkout
