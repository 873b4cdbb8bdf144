"""Where an existing build came from: its package's dist-git branch and commit.

A run for an existing build runs the package's tests from dist-git, so the trigger needs the build's
commit. A CI message's ``artifact.source`` (``git+https://...#<sha>``) names it; Koji's messages do
not, so it is the head of the build's dist-git branch when the message arrives (``git ls-remote``).
The branch is the one the build tag names (``build_tags``' group ``branch``), else the one its
release's dist tag belongs to (``1.fc26`` is ``f26``). The name and branch are checked before they
reach git.
"""

from __future__ import annotations

import os
import subprocess

from ci_pipeline.branches import branch_of_release
from ci_pipeline.config import Config
from ci_pipeline.errors import SchemaViolation
from ci_pipeline.messages.koji_build import BuildPush, ExistingBuild, build_push
from ci_pipeline.stages.git.distgit import FULL_SHA, GIT_ENVIRONMENT, clone_source, distgit_url

#: Seconds ``git ls-remote`` may take before the message is dead-lettered with that reason.
LS_REMOTE_TIMEOUT = 60.0


class BuildSources:
    """Finds the dist-git change of an existing build."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def push_of(self, build: ExistingBuild) -> BuildPush:
        """The build's change; SchemaViolation when its branch or commit cannot be known."""
        branch = build.branch or branch_of_release(build.release, self.config.pipeline.rawhide)
        if not branch:
            raise SchemaViolation(
                f"The build {build.nvr} names no dist-git branch: its tag does not and its release has no "
                "dist tag."
            )
        return build_push(build, branch, build.rev or self.branch_head(build.name, branch))

    def branch_head(self, name: str, branch: str) -> str:
        """The commit at the head of ``branch`` of the package's dist-git repository."""
        url = distgit_url(self.config.distgit.url, "rpms", name)
        try:
            done = subprocess.run(
                ["git", "ls-remote", "--", clone_source(url), f"refs/heads/{branch}"],
                env={**os.environ, **GIT_ENVIRONMENT}, capture_output=True, text=True,
                timeout=LS_REMOTE_TIMEOUT, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SchemaViolation(f"The dist-git repository of {name} cannot be read: {exc}.") from exc
        found = FULL_SHA.match(done.stdout)
        if done.returncode != 0 or found is None:
            raise SchemaViolation(f"The dist-git repository of {name} has no branch {branch}.")
        return found.group(0)
