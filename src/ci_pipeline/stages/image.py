"""The image stage: a bootable qcow2 disk holding the compose deployed as an OSTree sysroot.

The engine calls it when the branch's image interval has passed or ``force_image`` is set; it
always builds. The image is ``<artifacts.root>/<branch>/images/fedora-atomic-<version>-<rev15>.qcow2``
where ``<version>`` is the commit's ``version`` (``26.<n>``, ``n`` counting the branch's composes,
set by the compose stage) and ``<rev15>`` the first 15 digits of ``compose_rev``. BIOS and UEFI
firmware boot it with the boot loader entries ostree wrote (:mod:`.qemu.bootdisk`,
:mod:`.qemu.disklayout`). Only the newest :data:`KEEP_IMAGES` images are kept.
Outputs: ``image_name``, ``image_url``, ``type`` (``qcow2``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.fields import checked_checksum
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.ostree.treefile import DEFAULT_OSNAME, run_treefile
from ci_pipeline.stages.qemu import bootdisk
from ci_pipeline.stages.qemu.bootdisk import IMAGE_PREFIX, LATEST, image_name

logger = get_logger(__name__)

KEEP_IMAGES = 5
_VERSION = re.compile(r"[0-9]+\.[0-9]+")


def run(ctx: StageContext) -> StageResult:
    """Build the disk image of ``compose_rev``; see the module docstring."""
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    rev = checked_checksum(ctx.fields)
    osname = run_treefile(ctx).osname if ctx.config.trigger.treefile else None
    with artifacts.locked():
        name = build_image(ctx, artifacts, rev, osname or DEFAULT_OSNAME)
        prune_images(artifacts.images_dir, KEEP_IMAGES)
    return StageResult(
        outputs={"image_name": name, "image_url": artifacts.image_url(name), "type": "qcow2"},
        summary=f"Built {name}.",
    )


def commit_version(repo: Path, rev: str, workdir: Path, log_path: Path) -> str:
    """The ``version`` the compose stage gave the commit (``26.3``)."""
    text = ostree.run_to_file(
        ["ostree", f"--repo={repo}", "show", "--print-metadata-key=version", rev],
        workdir / "version.txt",
        log_path,
    )
    version = text.strip().strip("'")
    if not _VERSION.fullmatch(version):
        raise StageFailure(
            f"The commit {rev} has no version of the form 26.<n>; compose it with ci-pipeline."
        )
    return version


def build_image(ctx: StageContext, artifacts: BranchArtifacts, rev: str, osname: str) -> str:
    """Write the bootable disk of ``rev`` under the images directory; return its name."""
    repo = artifacts.ostree_repo
    name = image_name(commit_version(repo, rev, ctx.workdir, ctx.log_path), rev)
    staging = ctx.workdir / "image"
    staging.mkdir()
    bootdisk.build_disk(repo, rev, osname, staging / name, ctx.workdir, ctx.log_path)
    images = artifacts.images_dir
    images.mkdir(parents=True, exist_ok=True)
    target = images / name
    # Renamed into place: an image that exists is complete.
    os.replace(staging / name, target)
    logger.info("image %s of %s", name, rev)
    return name


def prune_images(images: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` images (never the one ``latest-atomic.qcow2`` names)."""
    latest = images / LATEST
    protected = os.readlink(latest) if latest.is_symlink() else ""
    found = sorted(
        (p for p in images.glob(f"{IMAGE_PREFIX}*.qcow2") if not p.is_symlink()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in found[keep:]:
        if old.name != protected:
            old.unlink(missing_ok=True)
