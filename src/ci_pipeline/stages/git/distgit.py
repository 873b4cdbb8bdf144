"""Fetching a package's dist-git repository at one commit.

The URL template (``distgit.url``) has ``{namespace}`` and ``{repo}`` placeholders and may be a
``file://`` or ``http(s)://`` URL or a plain path. The whole history is cloned because the build
counts the commits up to ``rev`` (the count goes into the release).
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.tools import Deadline, capture_tool

#: git never asks for a password: a stage has no one to answer it.
GIT_ENVIRONMENT = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
#: A full git commit id as git prints it: SHA-1, or SHA-256 in a repository that uses it.
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkout:
    """A dist-git working tree at one commit."""

    path: Path
    commit: str
    commit_count: int


def distgit_url(template: str, namespace: str, repo: str) -> str:
    """The dist-git URL (or path) of ``namespace/repo`` from the template."""
    return template.replace("{namespace}", namespace).replace("{repo}", repo)


def clone_source(url: str) -> str:
    """What to hand ``git clone``: a ``file://`` URL becomes its path, so git clones locally (hardlinks)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file" and parts.netloc in {"", "localhost"}:
        return urllib.parse.unquote(parts.path)
    return url


def _git(
    args: list[str], log_path: Path, deadline: Deadline, cwd: Path | None = None, failure: str = ""
) -> str:
    env = {**os.environ, **GIT_ENVIRONMENT}
    return capture_tool(
        ["git", *args], log_path, cwd=cwd, env=env, timeout=deadline.remaining(), failure=failure
    )


def _resolve(dest: Path, rev: str, log_path: Path, deadline: Deadline) -> str | None:
    try:
        printed = _git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
            log_path,
            deadline,
            cwd=dest,
        )
    except StageFailure:
        return None
    found = FULL_SHA.findall(printed)
    return found[-1] if found else None


def fetch_distgit(url: str, rev: str, dest: Path, log_path: Path, deadline: Deadline) -> Checkout:
    """Clone ``url`` into ``dest`` and check out ``rev`` detached; count the commits up to it."""
    try:
        _git(["clone", "--quiet", "--no-checkout", "--", clone_source(url), str(dest)], log_path, deadline)
    except StageFailure as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "git clone failed"
        raise InfrastructureError(f"The dist-git repository {url} cannot be reached: {reason}") from exc
    commit = _resolve(dest, rev, log_path, deadline)
    if commit is None:
        # A commit on no branch is still fetchable by its full id where the server allows it.
        with contextlib.suppress(StageFailure):
            _git(["fetch", "--quiet", "origin", rev], log_path, deadline, cwd=dest)
        commit = _resolve(dest, rev, log_path, deadline)
    if commit is None:
        raise StageFailure(f"The commit {rev} does not exist in {url}.")
    _git(
        ["checkout", "--quiet", "--detach", commit],
        log_path,
        deadline,
        cwd=dest,
        failure=f"The commit {rev[:7]} of {url} cannot be checked out",
    )
    printed = _git(["rev-list", "--count", commit], log_path, deadline, cwd=dest)
    counts = re.findall(r"^[0-9]+$", printed, re.M)
    if not counts:
        raise InfrastructureError(f"git rev-list printed no commit count for {commit} of {url}.")
    return Checkout(dest, commit, int(counts[-1]))
