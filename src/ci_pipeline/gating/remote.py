"""Reading a package's ``gating.yaml`` from its dist-git at one commit, as a ``!RemoteRule`` needs it.

The repository comes from the ``[distgit] url`` template: a local path or ``file://`` URL is read in
place with ``git show``; any other URL is fetched (that one commit, shallow) into a scratch bare
repository. A commit never changes, so what was read is kept (bounded) and asked again for free.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.stages.git.distgit import GIT_ENVIRONMENT, clone_source, distgit_url

#: What may reach git from the store: a dist-git name and a commit id.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}")
COMMIT = re.compile(r"[0-9a-f]{7,64}")
GIT_TIMEOUT = 30
CACHE_SIZE = 4096
#: A gating.yaml is a few policies; anything larger is refused before YAML reads it.
MAX_SIZE = 1 << 20


@dataclass(frozen=True)
class GatingYaml:
    """What reading ``gating.yaml`` found: its text, or None when the commit has none; or an error."""

    url: str
    text: str | None = None
    error: str | None = None


class FetchError(Exception):
    """The repository or the commit cannot be read."""


def _git(args: list[str], git_dir: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **GIT_ENVIRONMENT}
    try:
        return subprocess.run(
            ["git", f"--git-dir={git_dir}", *args],
            capture_output=True,
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"git could not run: {exc}") from exc


def _last_line(output: bytes) -> str:
    lines = output.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "git failed"


def _read_at(git_dir: str, commit: str) -> str | None:
    resolved = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{commit}^{{commit}}"], git_dir)
    if resolved.returncode != 0:
        raise FetchError(f"the commit {commit} is not in the repository")
    full = resolved.stdout.decode().strip()
    if _git(["cat-file", "-e", f"{full}:gating.yaml"], git_dir).returncode != 0:
        return None
    size = _git(["cat-file", "-s", f"{full}:gating.yaml"], git_dir).stdout.strip()
    if not size.isdigit() or int(size) > MAX_SIZE:
        raise FetchError(f"gating.yaml is larger than {MAX_SIZE} bytes")
    shown = _git(["show", f"{full}:gating.yaml"], git_dir)
    if shown.returncode != 0:
        raise FetchError(_last_line(shown.stderr))
    return shown.stdout.decode("utf-8", "replace")


def _read_remote(url: str, commit: str) -> str | None:
    with tempfile.TemporaryDirectory(prefix="gating-yaml-") as scratch:
        init = subprocess.run(["git", "init", "--quiet", "--bare", scratch], capture_output=True, check=False)
        if init.returncode != 0:
            raise FetchError(_last_line(init.stderr))
        fetched = _git(["fetch", "--quiet", "--depth=1", "--", url, commit], scratch)
        if fetched.returncode != 0:
            raise FetchError(_last_line(fetched.stderr))
        return _read_at(scratch, "FETCH_HEAD")


class GatingYamlReader:
    """Reads ``gating.yaml`` at a commit of ``namespace/repo`` through the ``[distgit] url`` template."""

    def __init__(self, url_template: str) -> None:
        self.url_template = url_template
        self._cache: OrderedDict[tuple[str, str], GatingYaml] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, namespace: str, repo: str, commit: str) -> GatingYaml:
        """The file at ``commit``; a name or commit that is not plain is an error, never a git argument."""
        if not (NAME.fullmatch(namespace) and NAME.fullmatch(repo) and COMMIT.fullmatch(commit)):
            return GatingYaml("", error=f"'{namespace}/{repo}' at '{commit}' is not a dist-git commit")
        url = distgit_url(self.url_template, namespace, repo)
        key = (url, commit)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        found = self._read(url, commit)
        if found.error is None:
            with self._lock:
                self._cache[key] = found
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return found

    @staticmethod
    def _read(url: str, commit: str) -> GatingYaml:
        source = clone_source(url)
        try:
            local = "://" not in source and Path(source).is_dir()
            text = _read_at(source, commit) if local else _read_remote(url, commit)
        except FetchError as exc:
            return GatingYaml(url, error=f"gating.yaml of {url} at {commit} cannot be read: {exc}")
        return GatingYaml(url, text=text)
