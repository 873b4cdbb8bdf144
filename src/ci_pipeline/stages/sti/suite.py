"""Where the integration test suite comes from: a git repository at a ref.

The URL and ref are the run's ``integration_tests_url`` and ``integration_tests_ref`` (per-run
options first, then fields). Without them the suite is the dist-git repository ``tests/atomic-host-tests``
(``distgit.url`` with ``{namespace}`` = ``tests`` and ``{repo}`` = ``atomic-host-tests``) at the
run's branch, or at ``master`` when the suite has no such branch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.git.distgit import FULL_SHA, GIT_ENVIRONMENT, clone_source, distgit_url
from ci_pipeline.stages.tools import Deadline, capture_tool

DEFAULT_NAMESPACE = "tests"
DEFAULT_REPO = "atomic-host-tests"
FALLBACK_REF = "master"
_URL = re.compile(r"(?:(?:file|https?|git|ssh)://|/)[^\s]{1,500}")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


def suite_source(
    template: str, branch: str, options: Mapping[str, str], fields: Mapping[str, str]
) -> tuple[str, list[str]]:
    """The suite's URL and the refs to try in order; StageFailure for an unsafe URL or ref."""
    url = options.get("integration_tests_url") or fields.get("integration_tests_url") or ""
    ref = options.get("integration_tests_ref") or fields.get("integration_tests_ref") or ""
    url = url or distgit_url(template, DEFAULT_NAMESPACE, DEFAULT_REPO)
    if not _URL.fullmatch(url):
        raise StageFailure(f"The integration tests URL {url!r} is not a git URL or an absolute path.")
    refs = [ref] if ref else [branch, FALLBACK_REF]
    for candidate in refs:
        if not _REF.fullmatch(candidate) or ".." in candidate or candidate.endswith((".lock", "/")):
            raise StageFailure(f"The integration tests ref {candidate!r} is not a valid git ref.")
    return url, list(dict.fromkeys(refs))


def fetch_suite(url: str, refs: list[str], dest: Path, log_path: Path, deadline: Deadline) -> str:
    """Clone ``url`` into ``dest`` and check out the first of ``refs`` it has; return the commit."""
    env = {**os.environ, **GIT_ENVIRONMENT}

    def git(*args: str, cwd: Path | None = None) -> str:
        return capture_tool(["git", *args], log_path, cwd=cwd, env=env, timeout=deadline.remaining())

    try:
        git("clone", "--quiet", "--no-checkout", "--", clone_source(url), str(dest))
    except StageFailure as exc:
        raise InfrastructureError(f"The integration test suite {url} cannot be cloned.") from exc
    for ref in refs:
        for name in (f"refs/remotes/origin/{ref}", ref):
            try:
                printed = git(
                    "rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}", cwd=dest
                )
            except StageFailure:
                continue
            found = FULL_SHA.findall(printed)
            if found:
                commit = str(found[-1])
                git("checkout", "--quiet", "--detach", commit, cwd=dest)
                return commit
    raise StageFailure(f"The integration test suite {url} has none of the refs {', '.join(refs)}.")
