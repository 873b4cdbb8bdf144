"""The prebuilt parts the example OS takes from the build host: busybox and a Linux kernel.

busybox is Debian's statically linked ``/bin/busybox`` (package busybox-static). The kernel is the
newest ``/boot/vmlinuz-<release>`` (Debian's linux-image-cloud-amd64) together with the modules the
initramfs loads, found through ``/lib/modules/<release>/modules.dep`` (modules built into the kernel
need nothing): the virtio disk drivers it boots from, and those the running guest needs later, since
modules loaded in the initramfs stay loaded after ``switch_root``: the virtio network card, FAT and
ISO 9660 with their code pages (a cloud-init seed volume is either), and ``af_packet`` (DHCP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages.qemu.kmods import DISK_MODULES, initramfs_modules

BUSYBOX = Path("/bin/busybox")
BOOT = Path("/boot")
MODULES = Path("/lib/modules")


@dataclass(frozen=True)
class HostKernel:
    """A kernel image and the modules, in load order, that its initramfs needs."""

    release: str
    vmlinuz: Path
    modules: tuple[Path, ...]


def find_busybox(path: Path = BUSYBOX) -> Path:
    """The static busybox binary, or InfrastructureError saying how to install it."""
    if not path.is_file():
        raise InfrastructureError(f"{path} is missing; install Debian's busybox-static (scripts/setup.sh).")
    return path


def find_kernel(boot: Path = BOOT, modules: Path = MODULES) -> HostKernel:
    """The newest kernel in ``boot`` with the modules its initramfs loads, from ``modules``."""
    images = sorted(boot.glob("vmlinuz-*"), key=lambda image: _version_key(image.name[len("vmlinuz-") :]))
    if not images:
        raise InfrastructureError(
            f"No kernel in {boot}; install Debian's linux-image-cloud-amd64 (scripts/setup.sh)."
        )
    image = images[-1]
    release = image.name[len("vmlinuz-") :]
    # The example OS boots from a virtio disk: its kernel must have the drivers.
    return HostKernel(release, image, initramfs_modules(modules / release, required=DISK_MODULES))


def _version_key(release: str) -> tuple[tuple[int, int, str], ...]:
    # Numbers sort as numbers and before words, so 6.10 comes after 6.9.
    parts = re.split(r"[.-]", release)
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)
