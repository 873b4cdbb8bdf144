"""The disk layout: partition sizes and what the EFI System Partition carries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages.qemu import firmware
from ci_pipeline.stages.qemu.disklayout import MIB, SECTOR, Partition, directory_size, esp_tree, round_up
from ci_pipeline.stages.qemu.firmware import Firmware, qemu_firmware_args


def test_directory_size_counts_hardlinks_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 65536)
    single = directory_size(tmp_path)
    os.link(tmp_path / "a", tmp_path / "b")
    assert directory_size(tmp_path) == single


@given(st.integers(min_value=0, max_value=1 << 40))
def test_round_up_gives_the_next_mib_boundary(size: int) -> None:
    rounded = round_up(size)
    assert rounded % MIB == 0 and size <= rounded < size + MIB


def test_partition_sectors_are_inclusive() -> None:
    part = Partition(start=MIB, size=64 * MIB)
    assert part.first_sector == 2048
    assert (part.last_sector - part.first_sector + 1) * SECTOR == part.size


def _ostree_boot(boot: Path) -> None:
    """A /boot as ``ostree admin deploy`` leaves it with the syslinux backend."""
    kernel_dir = boot / "ostree" / "os-abc"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "vmlinuz-6.1").write_bytes(b"kernel")
    (boot / "loader.1" / "entries").mkdir(parents=True)
    (boot / "loader.1" / "entries" / "ostree-1-os.conf").write_text("linux /ostree/os-abc/vmlinuz-6.1\n")
    (boot / "loader.1" / "syslinux.cfg").write_text("\tKERNEL /boot/ostree/os-abc/vmlinuz-6.1\n")
    (boot / "loader").symlink_to("loader.1")
    (boot / "boot").symlink_to(".")
    (boot / "syslinux").mkdir()
    (boot / "syslinux" / "syslinux.cfg").symlink_to("../loader/syslinux.cfg")


def test_esp_holds_ostrees_boot_with_links_resolved(tmp_path: Path) -> None:
    if not firmware.SYSTEMD_BOOT_EFI.is_file():
        pytest.fail("systemd-boot-efi is not installed; run scripts/setup.sh")
    boot, esp = tmp_path / "boot", tmp_path / "esp"
    _ostree_boot(boot)
    esp_tree(boot, esp)
    files = sorted(str(p.relative_to(esp)) for p in esp.rglob("*") if p.is_file())
    assert files == [
        "EFI/BOOT/BOOTX64.EFI",
        "boot/ostree/os-abc/vmlinuz-6.1",
        "loader/entries/ostree-1-os.conf",
        "loader/syslinux.cfg",
        "ostree/os-abc/vmlinuz-6.1",
        "syslinux/syslinux.cfg",
    ]
    assert not any(p.is_symlink() for p in esp.rglob("*"))
    assert (esp / "syslinux/syslinux.cfg").read_bytes() == (boot / "loader.1/syslinux.cfg").read_bytes()


def test_firmware_arguments() -> None:
    assert qemu_firmware_args(Firmware.BIOS) == []
    assert qemu_firmware_args(Firmware.UEFI) == ["-bios", str(firmware.ovmf_firmware())]


def test_missing_firmware_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(firmware, "OVMF_CANDIDATES", (tmp_path / "OVMF.fd",))
    with pytest.raises(InfrastructureError, match="install Debian's ovmf"):
        firmware.ovmf_firmware()
    with pytest.raises(InfrastructureError, match="syslinux-common"):
        firmware.required_file(tmp_path / "gptmbr.bin", "syslinux-common")
