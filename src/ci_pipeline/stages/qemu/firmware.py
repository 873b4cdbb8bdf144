"""Where this host keeps the boot loaders put on disks and the UEFI firmware that boots them.

All come from Debian packages (scripts/setup.sh installs them): systemd-boot's EFI binary
(``systemd-boot-efi``), syslinux's installer and its GPT master boot record (``syslinux``,
``syslinux-common``), and OVMF, the UEFI firmware for qemu (``ovmf``). BIOS boots need nothing:
qemu's default firmware is SeaBIOS.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from ci_pipeline.errors import InfrastructureError


class Firmware(StrEnum):
    """The firmware a guest boots with: qemu's default SeaBIOS, or OVMF for UEFI."""

    BIOS = "bios"
    UEFI = "uefi"


#: systemd-boot, installed as the ESP's fallback loader ``EFI/BOOT/BOOTX64.EFI``.
SYSTEMD_BOOT_EFI = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
#: The master boot record that chain-loads the GPT partition marked legacy-BIOS-bootable.
SYSLINUX_GPT_MBR = Path("/usr/lib/syslinux/mbr/gptmbr.bin")
#: OVMF as one file for ``-bios``: Debian's ``/usr/share/ovmf/OVMF.fd`` (older releases: ``OVMF/``).
OVMF_CANDIDATES = (Path("/usr/share/ovmf/OVMF.fd"), Path("/usr/share/OVMF/OVMF.fd"))


def required_file(path: Path, package: str) -> Path:
    """``path``, or InfrastructureError naming the Debian package that provides it."""
    if not path.is_file():
        raise InfrastructureError(f"{path} is missing; install Debian's {package} (scripts/setup.sh).")
    return path


def ovmf_firmware() -> Path:
    """The OVMF firmware image that ``qemu-system-x86_64 -bios`` boots UEFI guests with."""
    for candidate in OVMF_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise InfrastructureError("No OVMF firmware found; install Debian's ovmf (scripts/setup.sh).")


def qemu_firmware_args(firmware: Firmware) -> list[str]:
    """The ``qemu-system-x86_64`` arguments that boot a guest with ``firmware`` (none for BIOS)."""
    if firmware is Firmware.UEFI:
        return ["-bios", str(ovmf_firmware())]
    return []
