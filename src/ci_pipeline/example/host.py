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

BUSYBOX = Path("/bin/busybox")
BOOT = Path("/boot")
MODULES = Path("/lib/modules")
# What the initramfs loads to see a virtio disk (ext4 is built into Debian's kernels).
DISK_MODULES = ("virtio_pci", "virtio_blk")
#: Loaded as well when the kernel has them: an NVMe disk, the machines' network card, the
#: filesystems of a seed volume (vfat reads names with code page 437 and the ``ascii`` or
#: ``iso8859-1`` character set), and packet sockets for a DHCP client.
GUEST_MODULES = (
    "nvme",
    "virtio_net",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_iso8859_1",
    "isofs",
    "af_packet",
)


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
    module_dir = modules / release
    wanted = DISK_MODULES + available(module_dir, GUEST_MODULES)
    return HostKernel(release, image, disk_modules(module_dir, wanted))


def disk_modules(module_dir: Path, wanted: tuple[str, ...] = DISK_MODULES) -> tuple[Path, ...]:
    """The module files for ``wanted`` and everything they depend on, dependencies first."""
    dependencies = _read_modules_dep(module_dir)
    builtin = _read_builtin(module_dir)
    ordered: list[str] = []
    for name in wanted:
        _visit(name, dependencies, builtin, ordered, module_dir)
    return tuple(module_dir / relative for relative in ordered)


def available(module_dir: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``names`` the kernel has, as a module or built in."""
    known = {_module_name(path) for path in _read_modules_dep(module_dir)} | _read_builtin(module_dir)
    return tuple(name for name in names if name in known)


def _visit(
    name: str, dependencies: dict[str, list[str]], builtin: set[str], ordered: list[str], module_dir: Path
) -> None:
    if name in builtin:
        return
    relative = next((path for path in dependencies if _module_name(path) == name), None)
    if relative is None:
        raise InfrastructureError(
            f"The kernel modules in {module_dir} have no {name}; install the kernel package again."
        )
    if relative in ordered:
        return
    for needed in dependencies[relative]:
        _visit(_module_name(needed), dependencies, builtin, ordered, module_dir)
    ordered.append(relative)


def _read_modules_dep(module_dir: Path) -> dict[str, list[str]]:
    try:
        text = (module_dir / "modules.dep").read_text()
    except OSError as exc:
        raise InfrastructureError(f"Cannot read {module_dir}/modules.dep: {exc}.") from exc
    dependencies = {}
    for line in text.splitlines():
        module, _, needs = line.partition(":")
        dependencies[module.strip()] = needs.split()
    return dependencies


def _read_builtin(module_dir: Path) -> set[str]:
    path = module_dir / "modules.builtin"
    if not path.exists():
        return set()
    return {_module_name(line) for line in path.read_text().split()}


def _module_name(path: str) -> str:
    """``kernel/drivers/block/virtio_blk.ko.xz`` -> ``virtio_blk`` (dashes read as underscores)."""
    return Path(path).name.split(".ko")[0].replace("-", "_")


def _version_key(release: str) -> tuple[tuple[int, int, str], ...]:
    # Numbers sort as numbers and before words, so 6.10 comes after 6.9.
    parts = re.split(r"[.-]", release)
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)
