"""Just enough git to keep dist-git repositories: bare repos, commits in a work tree, pushes.

Commits are made with a fixed identity and, when a date is given, fixed dates, so that a world's
history reads the same every time it is built.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

AUTHOR_NAME = "CI Example Maintainer"
AUTHOR_EMAIL = "ci-example@example.org"
_GIT_OPTIONS = (
    "-c", "init.defaultBranch=master", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
)


def git(*args: str, cwd: Path | None = None, when: str | None = None) -> str:
    """Run git with a fixed identity; return its standard output without the trailing newline."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
        "GIT_TERMINAL_PROMPT": "0",
    }
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    command = ["git", *_GIT_OPTIONS, *args]
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    except FileNotFoundError as exc:
        raise InfrastructureError("git is not installed; run scripts/setup.sh.") from exc
    except subprocess.CalledProcessError as exc:
        raise InfrastructureError(
            f"'git {' '.join(args)}' failed in {cwd or Path.cwd()}: {exc.stderr.strip()}"
        ) from exc
    return done.stdout.rstrip("\n")


def init_bare(path: Path) -> Path:
    """Create an empty bare repository at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", str(path))
    return path


def init_worktree(path: Path) -> Path:
    """Create an empty non-bare repository at ``path`` to build history in."""
    path.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", cwd=path)
    return path


def clone(bare: Path, branch: str, target: Path) -> Path:
    """Clone one branch of ``bare`` into ``target``."""
    git("clone", "--quiet", "--branch", branch, str(bare), str(target))
    return target


def commit_all(worktree: Path, message: str, *, when: str | None = None) -> str:
    """Commit every change in ``worktree`` (added, changed, removed files); return the new rev."""
    git("add", "--all", cwd=worktree)
    git("commit", "--quiet", "--message", message, cwd=worktree, when=when)
    rev = head(worktree)
    log.debug("committed %s in %s: %s", rev[:7], worktree, message)
    return rev


def head(repo: Path, ref: str = "HEAD") -> str:
    """The 40-hex commit id ``ref`` points at."""
    return git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=repo)


def push(worktree: Path, remote: str, refspecs: list[str]) -> None:
    """Push ``refspecs`` (``local:remote`` or a branch name) from ``worktree`` to ``remote``."""
    git("push", "--quiet", remote, *refspecs, cwd=worktree)


def count_commits(repo: Path, ref: str) -> int:
    """How many commits ``ref`` has in its history."""
    return int(git("rev-list", "--count", ref, cwd=repo))
