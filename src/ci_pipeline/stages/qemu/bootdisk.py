"""Make a bootable disk from an OSTree commit, without mounting anything.

An OSTree sysroot is built in a directory with ``ostree admin`` (``init-fs``, ``os-init``, a
``pull-local`` of the commit, ``deploy``), exactly as on a real disk; ``mkfs.ext4 -d`` turns the
directory into a filesystem image labelled :data:`ROOT_LABEL`, and ``qemu-img`` into qcow2. The
deployment's boot loader entry (``/boot/loader/entries/*.conf``) names the kernel, the initramfs
and the kernel arguments (``ostree=`` among them); they are kept beside the image for direct
kernel boot, since the disk itself carries no boot loader.

Images are named as the seed names them (:func:`image_name`), their boot files sit in
:func:`boot_dir` beside them, and :data:`LATEST` links to the newest image that booted in the smoke test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.artifacts import BranchArtifacts

ROOT_LABEL = "ci-sysroot"
#: Kernel arguments of the deployment: the root disk by label and the serial console.
KERNEL_ARGS = (f"root=LABEL={ROOT_LABEL}", "console=ttyS0", "rw")
#: Free room on the filesystem beyond the deployed files, for /var and the journal.
FREE_SPACE = 96 * 1024 * 1024
TOOL_TIMEOUT = 900.0
LATEST = "latest-atomic.qcow2"
IMAGE_PREFIX = "fedora-atomic-"
_IMAGE_NAME = re.compile(rf"{IMAGE_PREFIX}[0-9]+\.[0-9]+-[0-9a-f]{{15}}\.qcow2")


@dataclass(frozen=True)
class BootEntry:
    """A deployment's kernel, initramfs and kernel arguments."""

    kernel: Path
    initramfs: Path | None
    options: str


def deploy_sysroot(compose_repo: Path, rev: str, osname: str, sysroot: Path, log_path: Path) -> None:
    """Create an OSTree sysroot in the new directory ``sysroot`` with ``rev`` deployed."""
    sysroot.mkdir(parents=True)
    base.run_tool(["ostree", "admin", "init-fs", str(sysroot)], log_path)
    base.run_tool(["ostree", "admin", "os-init", f"--sysroot={sysroot}", osname], log_path)
    base.run_tool(
        ["ostree", f"--repo={sysroot / 'ostree/repo'}", "pull-local", str(compose_repo), rev],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure=f"The commit {rev} could not be copied from {compose_repo}",
    )
    deploy = ["ostree", "admin", "deploy", f"--sysroot={sysroot}", f"--os={osname}"]
    deploy += [f"--karg={arg}" for arg in KERNEL_ARGS]
    # A mutable deployment: the immutable bit ostree sets would keep the work directory from being
    # removed (and mkfs.ext4 -d does not copy it into the image anyway).
    env = {**os.environ, "OSTREE_SYSROOT_DEBUG": "mutable-deployments"}
    base.run_tool(
        [*deploy, rev],
        log_path,
        env=env,
        timeout=TOOL_TIMEOUT,
        failure=f"ostree admin deploy of {rev} failed",
    )


def boot_entry(sysroot: Path) -> BootEntry:
    """Read the sysroot's (only) boot loader entry."""
    entries = sorted((sysroot / "boot/loader/entries").glob("*.conf"))
    if not entries:
        raise InfrastructureError(f"ostree admin deploy wrote no boot loader entry under {sysroot}/boot.")
    keys: dict[str, str] = {}
    for line in entries[-1].read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().partition(" ")
        keys[key] = value.strip()
    if "linux" not in keys:
        raise StageFailure("The deployment has no kernel; the compose must install one.")
    boot = sysroot / "boot"
    initrd = keys.get("initrd")
    return BootEntry(
        kernel=boot / keys["linux"].lstrip("/"),
        initramfs=boot / initrd.lstrip("/") if initrd else None,
        options=keys.get("options", ""),
    )


def directory_size(path: Path) -> int:
    """Bytes used by the files under ``path`` (hardlinks counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for item in [path, *path.rglob("*")]:
        info = item.lstat()
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


def make_disk(sysroot: Path, raw: Path, qcow2: Path, log_path: Path) -> None:
    """Write ``sysroot`` into an ext4 filesystem image and convert it to the qcow2 file ``qcow2``."""
    size_kib = (directory_size(sysroot) * 5 // 4 + FREE_SPACE) // 1024
    base.run_tool(
        ["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(sysroot), str(raw), f"{size_kib}k"],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure="mkfs.ext4 could not build the root filesystem",
    )
    base.run_tool(
        ["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow2)],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure="qemu-img could not write the qcow2 image",
    )


def keep_boot_files(entry: BootEntry, target: Path) -> None:
    """Copy the kernel, initramfs and kernel arguments into the new directory ``target``."""
    target.mkdir(parents=True)
    shutil.copyfile(entry.kernel, target / "vmlinuz")
    if entry.initramfs is not None:
        shutil.copyfile(entry.initramfs, target / "initramfs.img")
    (target / "cmdline").write_text(entry.options + "\n", encoding="utf-8")


def image_name(version: str, rev: str) -> str:
    """The seed's image name: ``fedora-atomic-26.200-c15b07cc0f560dd.qcow2``."""
    return f"{IMAGE_PREFIX}{version}-{rev[:15]}.qcow2"


def boot_dir(image: Path) -> Path:
    """Where an image's kernel, initramfs and kernel arguments are kept."""
    return image.with_name(image.name.removesuffix(".qcow2") + ".boot")


def run_image(artifacts: BranchArtifacts, fields: Mapping[str, str]) -> Path:
    """The run's image (``image_name``), checked to be one this pipeline builds and to have its boot files."""
    name = fields.get("image_name", "")
    if not _IMAGE_NAME.fullmatch(name):
        raise StageFailure(f"The run's image_name {name!r} is not an image this pipeline builds.")
    image = artifacts.images_dir / name
    if not image.is_file() or not (boot_dir(image) / "vmlinuz").is_file():
        raise StageFailure(f"The image {name} or its boot files are missing under {artifacts.images_dir}.")
    return image
