"""Where builds, and a branch's composes, images and caches, live under the artifact root, and their URLs.

::

    <artifacts.root>/<branch>/repo/<repo>_repo/     the newest build of each package (``package_url``)
    <artifacts.root>/runs/<run>/build/repo/         each build's own yum repo (``build_repo_url``),
                                                    from which composes take the good builds
    <artifacts.root>/<branch>/ostree/               archive-mode OSTree repo   -> compose_url
    <artifacts.root>/<branch>/images/               qcow2 images, latest-atomic.qcow2
    <artifacts.root>/<branch>/.compose-cache/       dnf cache, bare object cache, package lists
    <artifacts.root>/<branch>/.compose.lock         held while a compose or image build of the branch runs

Every value from a message is checked here before it reaches a path or a command.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.stages.fields import Change, checked_field

#: The build's own yum repository, in the stage's artifacts, and the output that gives its URL.
BUILD_REPO_DIR = "repo"
BUILD_REPO_FIELD = "build_repo_url"


def artifact_root(config: Config) -> Path:
    """The artifact root as an absolute path (a relative one is under the state directory)."""
    return config.artifact_root


def repo_location(config: Config, change: Change) -> tuple[Path, str]:
    """Where the change's yum repository is published, as a directory and as its public URL."""
    relative = f"{change.branch}/repo/{change.repo}_repo"
    return artifact_root(config) / relative, f"{config.artifacts_base_url}/{relative}/"


def build_repo_url(fields: Mapping[str, Any]) -> str:
    """The URL of a run's own build repository (``build_repo_url``, else ``package_url``); "" for none."""
    return str(fields.get(BUILD_REPO_FIELD) or fields.get("package_url") or "")


@dataclass(frozen=True)
class BranchArtifacts:
    """The artifact paths and URLs of one branch."""

    root: Path
    base_url: str
    branch: str

    @classmethod
    def of(cls, config: Config, fields: Mapping[str, str]) -> BranchArtifacts:
        """The artifacts of the run's branch."""
        branch = checked_field(fields, "branch")
        return cls(
            root=config.artifact_root / branch,
            base_url=f"{config.artifacts_base_url}/{branch}",
            branch=branch,
        )

    @property
    def ostree_repo(self) -> Path:
        """The branch's archive-mode OSTree repo."""
        return self.root / "ostree"

    @property
    def compose_url(self) -> str:
        """The public URL of :attr:`ostree_repo`."""
        return f"{self.base_url}/ostree"

    @property
    def images_dir(self) -> Path:
        """Where the branch's disk images are kept."""
        return self.root / "images"

    def image_url(self, name: str) -> str:
        """The public URL of an image in :attr:`images_dir`."""
        return f"{self.base_url}/images/{name}"

    @property
    def cache_dir(self) -> Path:
        """Caches that make the next compose of the branch faster; safe to delete."""
        return self.root / ".compose-cache"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the branch's lock: composes and image builds of one branch never overlap."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".compose.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
