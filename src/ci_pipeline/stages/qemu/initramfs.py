"""A tiny busybox initramfs that boots an OSTree deployment, as ``ostree-prepare-root`` does.

It first loads the kernel modules of :func:`~ci_pipeline.stages.qemu.kmods.initramfs_modules`
found in the kernel's module directory (``/usr/lib/modules/<version>`` of the tree), so the
root may sit on a virtio or NVMe disk whether their drivers are modules or built in; those
modules stay loaded for the booted system.

The kernel command line names the disk (``root=/dev/...`` or ``root=LABEL=...``) and the
deployment (``ostree=/ostree/boot.N/<os>/<bootcsum>/<serial>``, written by ``ostree admin
deploy``). The init mounts the disk, follows the ``ostree=`` link to the deployment directory, binds
it as the new root with ``/sysroot`` (the physical root) and ``/var`` (the stateroot's), mounts a
tmpfs on ``/run`` and ``switch_root``\\ s into ``/sbin/init``.

The commit checksum of the deployment it entered (the directory's name) is written to
``/run/ci-pipeline/commit`` and bind-mounted over ``/usr/lib/ci-pipeline/commit`` when the tree
has that file, so the OS reports the commit it really booted (see :mod:`ci_pipeline.stages.smoke`).
Its lines start with ``CI-INITRAMFS`` on the console.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages import base
from ci_pipeline.stages.qemu.kmods import initramfs_modules

#: busybox-static from Debian; any statically linked busybox with switch_root and findfs works.
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /sysroot /newroot
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
if [ -f /lib/modules/load.order ]; then
    # A driver that is already there (or built in) makes insmod fail harmlessly.
    while read -r module; do insmod "/lib/modules/$module" 2>/dev/null; done < /lib/modules/load.order
fi
fail() { echo "CI-INITRAMFS-FAILED $*"; poweroff -f; }
root=""; deployment_link=""
for word in $(cat /proc/cmdline); do
    case "$word" in
        root=*) root="${word#root=}" ;;
        ostree=*) deployment_link="${word#ostree=}" ;;
    esac
done
[ -n "$deployment_link" ] || fail "no ostree= on the kernel command line"
tries=0
while :; do
    case "$root" in
        LABEL=*|UUID=*) device=$(findfs "$root" 2>/dev/null) ;;
        *) device="$root" ;;
    esac
    [ -n "$device" ] && [ -b "$device" ] && break
    tries=$((tries + 1))
    [ "$tries" -gt 200 ] && fail "the root device $root did not appear"
    sleep 0.05
done
mount -t ext4 "$device" /sysroot || fail "cannot mount $device"
deployment=$(cd "/sysroot$deployment_link" 2>/dev/null && pwd -P) || fail "no deployment at $deployment_link"
stateroot="${deployment%/deploy/*}"
checksum=$(basename "$deployment"); checksum="${checksum%.*}"
echo "CI-INITRAMFS deployment $deployment"
mount --bind "$deployment" /newroot
mount --bind /sysroot /newroot/sysroot
mount --bind "$stateroot/var" /newroot/var
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mkdir -p /newroot/run/ci-pipeline
touch /newroot/run/ostree-booted
echo "$checksum" > /newroot/run/ci-pipeline/commit
if [ -f /newroot/usr/lib/ci-pipeline/commit ]; then
    mount --bind /newroot/run/ci-pipeline/commit /newroot/usr/lib/ci-pipeline/commit
fi
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
"""


def find_busybox() -> Path:
    """The static busybox the initramfs is made of."""
    for candidate in BUSYBOX_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise InfrastructureError("No static busybox found; install busybox-static.")


def build_initramfs(out: Path, workdir: Path, log_path: Path, *, module_dir: Path | None = None) -> None:
    """Write a gzip-compressed newc cpio initramfs to ``out``, byte-identical for the same inputs.

    With ``module_dir`` (a kernel's ``/usr/lib/modules/<version>`` holding ``modules.dep``) the
    modules it needs are packed and loaded; without one, the kernel's built-in drivers must do.
    """
    tree = workdir / "initramfs-tree"
    if tree.exists():
        shutil.rmtree(tree)
    (tree / "bin").mkdir(parents=True)
    shutil.copy2(find_busybox(), tree / "bin" / "busybox")
    init = tree / "init"
    init.write_text(INIT_SCRIPT, encoding="utf-8")
    init.chmod(0o755)
    if module_dir is not None and (module_dir / "modules.dep").is_file():
        _add_modules(initramfs_modules(module_dir), tree / "lib" / "modules")
    # Fixed timestamps make the archive reproducible, so unchanged composes share its object.
    for path in (tree, *tree.rglob("*")):
        os.utime(path, (0, 0), follow_symlinks=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    base.run_tool(
        [
            "sh",
            "-c",
            'cd "$1" && find . -mindepth 1 | LC_ALL=C sort'
            ' | cpio -o -H newc --quiet --reproducible -R 0:0 | gzip -n -1 > "$2"',
            "sh",
            str(tree),
            str(out),
        ],
        log_path,
        failure="Building the initramfs failed",
    )


def _add_modules(modules: tuple[Path, ...], target: Path) -> None:
    """Copy ``modules`` into ``target`` with ``load.order`` naming them in load order."""
    target.mkdir(parents=True)
    for module in modules:
        shutil.copyfile(module, target / module.name)
    (target / "load.order").write_text("".join(f"{module.name}\n" for module in modules), encoding="utf-8")
