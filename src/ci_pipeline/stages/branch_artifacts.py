"""Where a branch's composes, images and caches live under the artifact root, and their URLs.

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
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.config import Config
from ci_pipeline.errors import StageFailure

_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NVR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~^-]{0,254}")
_CHECKSUM = re.compile(r"[0-9a-f]{64}")


def checked_branch(fields: Mapping[str, str]) -> str:
    """The run's branch, refused unless it is a plain name safe in a path."""
    branch = fields.get("branch", "")
    if not _BRANCH.fullmatch(branch):
        raise StageFailure(f"The run's branch {branch!r} is not a valid branch name.")
    return branch


def checked_nvr(fields: Mapping[str, str]) -> str:
    """The change's NVR, refused unless it looks like name-version-release."""
    nvr = fields.get("nvr", "")
    if not _NVR.fullmatch(nvr) or nvr.count("-") < 2:
        raise StageFailure(f"The run's nvr {nvr!r} is not a name-version-release.")
    return nvr


def checked_checksum(fields: Mapping[str, str], key: str = "compose_rev") -> str:
    """An OSTree commit checksum from the run's fields (64 hex digits)."""
    value = fields.get(key, "")
    if not _CHECKSUM.fullmatch(value):
        raise StageFailure(f"The run's {key} {value!r} is not an OSTree commit checksum.")
    return value


@dataclass(frozen=True)
class BranchArtifacts:
    """The artifact paths and URLs of one branch."""

    root: Path
    base_url: str
    branch: str

    @classmethod
    def of(cls, config: Config, fields: Mapping[str, str]) -> BranchArtifacts:
        """The artifacts of the run's branch."""
        return cls(
            root=config.artifact_root / checked_branch(fields),
            base_url=f"{config.artifacts_base_url}/{checked_branch(fields)}",
            branch=checked_branch(fields),
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
