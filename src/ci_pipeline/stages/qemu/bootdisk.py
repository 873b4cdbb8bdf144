"""Make a bootable disk from an OSTree commit, without mounting anything.

An OSTree sysroot is built in a directory with ``ostree admin`` (``init-fs``, ``os-init``, a
``pull-local`` of the commit, ``deploy``), exactly as on a real disk. Before the deploy the sysroot
gets what a syslinux installation leaves in ``/boot`` (``syslinux/syslinux.cfg`` linked to
``../loader/syslinux.cfg`` and a first ``loader.0/syslinux.cfg`` with the loader's global settings),
so ``ostree admin deploy`` writes the syslinux configuration alongside its BLS entries
(``/boot/loader/entries/*.conf``): both are ostree's own, never edited here.
:mod:`.disklayout` lays the sysroot out as a GPT disk with an EFI System Partition that BIOS
(syslinux) and UEFI (systemd-boot) firmware both boot; ``qemu-img`` turns it into qcow2
(:func:`build_disk`).

Images boot from their own disk (no direct kernel boot). They are named as the seed names them
(:func:`image_name`), and :data:`LATEST` links to the newest image that booted in the smoke test.
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
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.qemu.disklayout import ROOT_LABEL, TOOL_TIMEOUT, write_disk

#: Kernel arguments of the deployment: the root disk by label and the serial console.
KERNEL_ARGS = (f"root=LABEL={ROOT_LABEL}", "console=ttyS0", "rw")
#: syslinux's global settings, kept by ostree above the entries it writes: a console on COM1 too.
SYSLINUX_SETTINGS = "SERIAL 0 115200\n"
LATEST = "latest-atomic.qcow2"
IMAGE_PREFIX = "fedora-atomic-"
_IMAGE_NAME = re.compile(rf"{IMAGE_PREFIX}[0-9]+\.[0-9]+-[0-9a-f]{{15}}\.qcow2")
#: Where ``ostree admin deploy`` looks for a commit's kernel, as ``ostree ls -R`` prints it.
_KERNEL_PATH = re.compile(
    r" (/usr/lib/modules/[^/\s]+/vmlinuz|/usr/lib/ostree-boot/vmlinuz-\S+|/boot/vmlinuz-\S+)$", re.MULTILINE
)
_KERNEL_DIRECTORIES = ("/usr/lib/modules", "/usr/lib/ostree-boot", "/boot")


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
    prepare_syslinux(sysroot / "boot")
    base.run_tool(
        ["ostree", f"--repo={sysroot / 'ostree/repo'}", "pull-local", str(compose_repo), rev],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure=f"The commit {rev} could not be copied from {compose_repo}",
    )
    if not commit_has_kernel(sysroot / "ostree/repo", rev, sysroot.parent, log_path):
        raise StageFailure(
            f"The commit {rev} has no kernel (/usr/lib/modules/<version>/vmlinuz);"
            " the compose must install one."
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


def prepare_syslinux(boot: Path) -> None:
    """Leave in ``boot`` what a syslinux installation leaves, so ostree's syslinux backend writes its config.

    ostree picks the backend whose configuration it finds (``boot/syslinux/syslinux.cfg``) and
    rewrites that file's entries at each deploy into ``loader.<N>/syslinux.cfg``, keeping the
    global settings above them (:data:`SYSLINUX_SETTINGS`).
    """
    (boot / "loader.0").mkdir(parents=True)
    (boot / "loader.0" / "syslinux.cfg").write_text(SYSLINUX_SETTINGS, encoding="utf-8")
    (boot / "loader").symlink_to("loader.0")
    (boot / "syslinux").mkdir()
    (boot / "syslinux" / "syslinux.cfg").symlink_to("../loader/syslinux.cfg")


def commit_has_kernel(repo: Path, rev: str, workdir: Path, log_path: Path) -> bool:
    """Whether ``rev`` has a kernel where ``ostree admin deploy`` looks for one."""
    for directory in _KERNEL_DIRECTORIES:
        try:
            listing = ostree.run_to_file(
                ["ostree", f"--repo={repo}", "ls", "-R", rev, directory], workdir / "kernel-ls.txt", log_path
            )
        except StageFailure:  # the directory does not exist in the commit
            continue
        if _KERNEL_PATH.search(listing):
            return True
    return False


def build_disk(
    compose_repo: Path,
    rev: str,
    osname: str,
    qcow2: Path,
    workdir: Path,
    log_path: Path,
) -> None:
    """Write ``rev`` of ``compose_repo`` deployed as ``osname`` into the bootable qcow2 disk ``qcow2``.

    ``workdir`` holds the sysroot and the raw disk while they are made (and nothing after).
    """
    sysroot, raw = workdir / "sysroot", workdir / "disk.raw"
    try:
        deploy_sysroot(compose_repo, rev, osname, sysroot, log_path)
        boot_entry(sysroot)  # a deployment without a kernel fails here, saying so
        write_disk(sysroot, raw, workdir, log_path)
        base.run_tool(
            ["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow2)],
            log_path,
            timeout=TOOL_TIMEOUT,
            failure="qemu-img could not write the qcow2 image",
        )
    finally:
        shutil.rmtree(sysroot, ignore_errors=True)
        raw.unlink(missing_ok=True)


def image_name(version: str, rev: str) -> str:
    """The seed's image name: ``fedora-atomic-26.200-c15b07cc0f560dd.qcow2``."""
    return f"{IMAGE_PREFIX}{version}-{rev[:15]}.qcow2"


def run_image(artifacts: BranchArtifacts, fields: Mapping[str, str]) -> Path:
    """The run's image (``image_name``), checked to be one this pipeline builds and to exist."""
    name = fields.get("image_name", "")
    if not _IMAGE_NAME.fullmatch(name):
        raise StageFailure(f"The run's image_name {name!r} is not an image this pipeline builds.")
    image = artifacts.images_dir / name
    if not image.is_file():
        raise StageFailure(f"The image {name} is missing under {artifacts.images_dir}.")
    return image
