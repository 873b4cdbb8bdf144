"""Turn a root installed by dnf into the shape an OSTree commit must have (as rpm-ostree does).

- the kernel ``/boot/vmlinuz-<kver>`` (and its initramfs) moves to ``/usr/lib/modules/<kver>/``,
  ``/boot`` is left empty; the deployment tool finds the kernel there;
- ``/bin``, ``/sbin``, ``/lib``, ``/lib64`` become links into ``/usr`` (usr-merge);
- the rpm database moves to ``/usr/share/rpm`` (``/var/lib/rpm`` is linked to it at boot);
- ``/etc`` moves to ``/usr/etc`` (the deployment makes ``/etc`` from it with a 3-way merge);
- ``/var`` is emptied: what packages put there becomes ``systemd-tmpfiles`` entries in
  ``/usr/lib/tmpfiles.d/ci-pipeline-autovar.conf``, since ``/var`` belongs to the machine;
- ``/home``, ``/root``, ``/opt``, ``/srv``, ``/mnt``, ``/usr/local`` link into ``/var``,
  ``/media`` into ``/run``, ``/ostree`` into ``/sysroot``; ``/dev``, ``/proc``, ``/sys``,
  ``/run``, ``/tmp``, ``/sysroot``, ``/boot`` and ``/var`` are empty mount points.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ci_pipeline.errors import StageFailure

USR_MERGED = ("bin", "sbin", "lib", "lib64")
VAR_LINKS = {
    "home": "var/home",
    "root": "var/roothome",
    "opt": "var/opt",
    "srv": "var/srv",
    "mnt": "var/mnt",
    "media": "run/media",
    "ostree": "sysroot/ostree",
}
EMPTY_MOUNT_POINTS = ("dev", "proc", "sys", "run", "tmp", "sysroot", "boot", "var")
RPMDB = Path("usr/share/rpm")
AUTOVAR = Path("usr/lib/tmpfiles.d/ci-pipeline-autovar.conf")


def kernel_versions(root: Path) -> list[str]:
    """The kernel versions whose ``vmlinuz`` is in ``/usr/lib/modules`` of ``root``."""
    modules = root / "usr/lib/modules"
    return sorted(p.parent.name for p in modules.glob("*/vmlinuz")) if modules.is_dir() else []


def move_kernels(root: Path) -> None:
    """Move ``/boot/vmlinuz-<kver>`` and ``/boot/initramfs-<kver>.img`` next to their modules."""
    boot = root / "boot"
    for kernel in sorted(boot.glob("vmlinuz-*")):
        kver = kernel.name.removeprefix("vmlinuz-")
        target = root / "usr/lib/modules" / kver
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(kernel, target / "vmlinuz")
        initramfs = boot / f"initramfs-{kver}.img"
        if initramfs.is_file():
            shutil.move(initramfs, target / "initramfs.img")


def prepare_tree(root: Path) -> None:
    """Reshape ``root`` in place into an OSTree-committable tree (see the module docstring)."""
    if not (root / "usr").is_dir():
        raise StageFailure(f"The composed root {root} has no /usr; the packages installed nothing usable.")
    move_kernels(root)
    _usr_merge(root)
    _move_rpmdb(root)
    _move_etc(root)
    tmpfiles = _var_to_tmpfiles(root)
    for name in EMPTY_MOUNT_POINTS:
        _make_empty_dir(root / name)
    (root / "tmp").chmod(0o1777)
    for name, target in VAR_LINKS.items():
        _replace_with_link(root / name, target)
    _replace_with_link(root / "usr/local", "../var/usrlocal")
    tmpfiles.append("L /var/lib/rpm - - - - ../../usr/share/rpm")
    autovar = root / AUTOVAR
    autovar.parent.mkdir(parents=True, exist_ok=True)
    autovar.write_text("\n".join(tmpfiles) + "\n", encoding="utf-8")


def _usr_merge(root: Path) -> None:
    for name in USR_MERGED:
        top = root / name
        if top.is_dir() and not top.is_symlink():
            # A tree that is not usr-merged yet: fold the top-level directory into /usr.
            merged = root / "usr" / name
            merged.mkdir(parents=True, exist_ok=True)
            for entry in top.iterdir():
                if not (merged / entry.name).exists():
                    shutil.move(entry, merged / entry.name)
            shutil.rmtree(top)
        if not top.is_symlink() and (root / "usr" / name).is_dir():
            top.symlink_to(f"usr/{name}")


def _move_rpmdb(root: Path) -> None:
    rpmdb = root / "var/lib/rpm"
    if rpmdb.is_dir() and not rpmdb.is_symlink():
        target = root / RPMDB
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(rpmdb, target)


def _move_etc(root: Path) -> None:
    etc, usr_etc = root / "etc", root / "usr/etc"
    if usr_etc.exists():
        raise StageFailure("A package installs /usr/etc, which OSTree reserves for the default /etc.")
    if etc.is_dir():
        shutil.move(etc, usr_etc)
    else:
        usr_etc.mkdir()


def _var_to_tmpfiles(root: Path) -> list[str]:
    """tmpfiles.d lines that recreate the directories and links packages put in /var."""
    var = root / "var"
    lines: list[str] = []
    if not var.is_dir():
        return lines
    for dirpath, dirnames, filenames in os.walk(var):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = "/" + str(path.relative_to(root))
            info = path.lstat()
            if path.is_symlink():
                lines.append(f"L {rel} - - - - {os.readlink(path)}")
            elif path.is_dir():
                lines.append(f"d {rel} {info.st_mode & 0o7777:04o} {info.st_uid} {info.st_gid} - -")
        dirnames.sort()
    return lines


def _make_empty_dir(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.mkdir(mode=0o755)


def _replace_with_link(path: Path, target: str) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.symlink_to(target)
