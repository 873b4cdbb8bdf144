"""A tiny busybox initramfs that boots an OSTree deployment, as ``ostree-prepare-root`` does.

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

#: busybox-static from Debian; any statically linked busybox with switch_root and findfs works.
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /sysroot /newroot
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
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


def build_initramfs(out: Path, workdir: Path, log_path: Path) -> None:
    """Write a gzip-compressed newc cpio initramfs to ``out``, byte-identical for the same busybox."""
    tree = workdir / "initramfs-tree"
    if tree.exists():
        shutil.rmtree(tree)
    (tree / "bin").mkdir(parents=True)
    shutil.copy2(find_busybox(), tree / "bin" / "busybox")
    init = tree / "init"
    init.write_text(INIT_SCRIPT, encoding="utf-8")
    init.chmod(0o755)
    # Fixed timestamps make the archive reproducible, so unchanged composes share its object.
    for path in (tree, tree / "bin", tree / "bin" / "busybox", init):
        os.utime(path, (0, 0))
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
