"""Lay a deployed OSTree sysroot out as a GPT disk that BIOS and UEFI firmware both boot.

Two partitions, aligned to 1 MiB:

1. the EFI System Partition (FAT32), also marked legacy-BIOS-bootable. It holds the deployment's
   ``/boot`` exactly as ``ostree admin deploy`` wrote it, symlinks resolved since FAT has none
   (``/loader/entries/*.conf``, the BLS entries; ``/ostree/<os>-<bootcsum>/`` with the kernel and
   initramfs they name; ``/syslinux/syslinux.cfg``, written by ostree's syslinux backend), and the
   two loaders that read those entries:

   - UEFI: systemd-boot as the fallback loader ``/EFI/BOOT/BOOTX64.EFI``. It reads the BLS entries
     from ``/loader/entries`` of the ESP, whose ``linux``/``initrd`` paths (``/ostree/...``, relative
     to the boot partition) resolve there.
   - BIOS: syslinux, installed into ``/syslinux`` with its GPT master boot record (``gptmbr.bin``)
     in the first 440 bytes of the disk; the MBR chain-loads the legacy-BIOS-bootable partition.
     Its configuration is ostree's ``syslinux.cfg``, whose ``KERNEL``/``INITRD`` paths carry a
     ``/boot`` prefix: on a filesystem with links ostree's ``boot -> .`` symlink resolves it, so the
     ESP carries the ``ostree/`` directory a second time under ``/boot`` (FAT's stand-in for that
     link; it costs one more copy of the kernel and initramfs).

2. the root, ext4 labelled :data:`ROOT_LABEL` (the kernel arguments say ``root=LABEL=...``) and typed
   Linux x86-64 root, made from the sysroot directory by ``mkfs.ext4 -d``.

Nothing is mounted: each filesystem is written straight into its place in the disk file
(``mkfs.fat --offset``, ``mkfs.ext4 -E offset=``, mtools' ``file@@offset``, ``syslinux --offset``).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.stages import base
from ci_pipeline.stages.qemu.firmware import SYSLINUX_GPT_MBR, SYSTEMD_BOOT_EFI, required_file

ROOT_LABEL = "ci-sysroot"
ESP_LABEL = "EFI"
SECTOR = 512
MIB = 1024 * 1024
#: FAT32 needs at least 65525 clusters; with 512-byte clusters that is about 33 MiB.
MIN_ESP_SIZE = 64 * MIB
#: Free room on the root filesystem beyond the deployed files, for /var and the journal.
ROOT_FREE_SPACE = 96 * MIB
TOOL_TIMEOUT = 900.0
#: Where syslinux's ldlinux.sys goes; it looks for syslinux.cfg in its own directory first.
SYSLINUX_DIRECTORY = "/syslinux"
#: The bytes of the MBR that hold boot code; the partition table follows.
MBR_CODE_SIZE = 440
#: sgdisk's type codes: EFI System Partition and Linux x86-64 root.
ESP_TYPE = "ef00"
ROOT_TYPE = "8304"
_BOOT_VERSION_DIR = re.compile(r"loader\.[0-9]+")


@dataclass(frozen=True)
class Partition:
    """Where a partition lies in the disk file, in bytes."""

    start: int
    size: int

    @property
    def first_sector(self) -> int:
        return self.start // SECTOR

    @property
    def last_sector(self) -> int:
        return (self.start + self.size) // SECTOR - 1


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


def round_up(size: int, unit: int = MIB) -> int:
    """``size`` rounded up to a multiple of ``unit``."""
    return -(-size // unit) * unit


def esp_tree(boot: Path, target: Path) -> None:
    """Write the ESP's files into the new directory ``target``: the loaders and ``boot`` (ostree's /boot).

    The ``loader.N`` directories are reached through ostree's ``loader`` link, which names the
    current one; ``boot -> .`` becomes a copy of ``ostree/`` under ``boot/`` (see the module docstring).
    """
    shutil.copytree(
        boot,
        target,
        symlinks=False,
        ignore=lambda directory, names: [
            name
            for name in names
            if Path(directory) == boot and (_BOOT_VERSION_DIR.fullmatch(name) or name == "boot")
        ],
    )
    if (boot / "boot").is_symlink() and (boot / "ostree").is_dir():
        shutil.copytree(boot / "ostree", target / "boot" / "ostree")
    efi_boot = target / "EFI" / "BOOT"
    efi_boot.mkdir(parents=True)
    shutil.copyfile(required_file(SYSTEMD_BOOT_EFI, "systemd-boot-efi"), efi_boot / "BOOTX64.EFI")
    (target / SYSLINUX_DIRECTORY.lstrip("/")).mkdir(exist_ok=True)


def write_disk(sysroot: Path, raw: Path, workdir: Path, log_path: Path) -> None:
    """Write the disk image ``raw`` (see the module docstring) for the deployed ``sysroot``."""
    esp_files = workdir / "esp"
    esp_tree(sysroot / "boot", esp_files)
    esp = Partition(MIB, max(MIN_ESP_SIZE, round_up(directory_size(esp_files) * 5 // 4 + 4 * MIB)))
    root = Partition(esp.start + esp.size, round_up(directory_size(sysroot) * 5 // 4 + ROOT_FREE_SPACE))
    with raw.open("wb") as disk:
        # The backup GPT needs the last 33 sectors; one more MiB keeps the end aligned too.
        disk.truncate(root.start + root.size + MIB)
    _partition(raw, esp, root, log_path)
    _write_esp(raw, esp, esp_files, log_path)
    base.run_tool(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-L",
            ROOT_LABEL,
            "-E",
            f"offset={root.start}",
            "-d",
            str(sysroot),
            str(raw),
            f"{root.size // 1024}k",
        ],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure="mkfs.ext4 could not build the root filesystem",
    )
    shutil.rmtree(esp_files, ignore_errors=True)


def _partition(raw: Path, esp: Partition, root: Partition, log_path: Path) -> None:
    base.run_tool(
        [
            "sgdisk",
            "--clear",
            f"--new=1:{esp.first_sector}:{esp.last_sector}",
            f"--typecode=1:{ESP_TYPE}",
            "--change-name=1:EFI System Partition",
            # Attribute bit 2, legacy BIOS bootable: the partition gptmbr.bin chain-loads.
            "--attributes=1:set:2",
            f"--new=2:{root.first_sector}:{root.last_sector}",
            f"--typecode=2:{ROOT_TYPE}",
            "--change-name=2:root",
            str(raw),
        ],
        log_path,
        failure="sgdisk could not write the partition table",
    )


def _write_esp(raw: Path, esp: Partition, files: Path, log_path: Path) -> None:
    """Make the FAT filesystem in place, copy ``files`` in with mtools, install syslinux and its MBR."""
    base.run_tool(
        [
            "mkfs.fat",
            "-F",
            "32",
            # One sector a cluster: a small ESP then has the 65525 clusters that make mtools read it
            # as FAT32 (with fewer it takes it for FAT16 with no root directory: "No directory slots").
            "-s",
            "1",
            "-n",
            ESP_LABEL,
            f"--offset={esp.first_sector}",
            "-h",
            str(esp.first_sector),
            str(raw),
            str(esp.size // 1024),
        ],
        log_path,
        failure="mkfs.fat could not build the EFI System Partition",
    )
    # mtools reads the image at the partition's byte offset; it would refuse the geometry otherwise.
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    image = f"{raw}@@{esp.start}"
    base.run_tool(
        ["mcopy", "-s", "-Q", "-i", image, *sorted(str(p) for p in files.iterdir()), "::/"],
        log_path,
        env=env,
        timeout=TOOL_TIMEOUT,
        failure="mcopy could not copy the boot files into the EFI System Partition",
    )
    base.run_tool(
        ["syslinux", "--install", f"--offset={esp.start}", f"--directory={SYSLINUX_DIRECTORY}", str(raw)],
        log_path,
        env=env,
        failure="syslinux could not be installed into the EFI System Partition",
    )
    mbr = required_file(SYSLINUX_GPT_MBR, "syslinux-common").read_bytes()[:MBR_CODE_SIZE]
    with raw.open("r+b") as disk:
        disk.write(mbr)
