"""Publishing built RPMs as a yum repository (createrepo_c) that later stages and people install from.

The repository is built in a fresh directory beside its final place and then renamed over the old
one, so a reader sees either the previous repository or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.stages.base import run_tool
from ci_pipeline.stages.tools import Deadline


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def publish_yum_repo(rpms: Sequence[Path], target: Path, log_path: Path, deadline: Deadline) -> Path:
    """Make ``target`` a yum repository of exactly ``rpms``, replacing what was there; return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        for rpm in rpms:
            _link_or_copy(rpm, staging / rpm.name)
        run_tool(
            ["createrepo_c", "--quiet", str(staging)],
            log_path,
            timeout=deadline.remaining(),
            failure=f"createrepo_c cannot index the RPMs for {target.name}",
        )
        staging.chmod(0o755)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _swap_in(staging: Path, target: Path) -> None:
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        # rename() over a directory needs the destination gone: move the old one into a holder first.
        os.rename(target, retired / target.name)
    try:
        os.rename(staging, target)
    except OSError:
        if retired is not None:
            with contextlib.suppress(OSError):
                os.rename(retired / target.name, target)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
