"""Booting an image under qemu: the accelerator that really runs a guest here, and the command line.

The kernel boots directly (``-kernel``/``-initrd``/``-append`` from the image's ``.boot`` directory,
:func:`~ci_pipeline.stages.qemu.bootdisk.boot_dir`), the disk is an NVMe device (its driver is built
into common kernels) opened with ``-snapshot`` so the published image stays untouched. KVM is used
where ``/dev/kvm`` works, else TCG.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base

#: Kernel arguments that shorten an emulated boot: no probing of absent hardware, quiet console.
FAST_BOOT_ARGS = (
    "quiet loglevel=3 tsc=reliable no_timer_check i8042.noaux i8042.nokbd i8042.nopnp 8250.nr_uarts=1"
)
KVM_PROBE_TIMEOUT = 10.0
#: A boot sector: write "K" to COM1, then leave through qemu's isa-debug-exit port.
_PROBE_CODE = bytes.fromhex("baf803b04beeb031e6f4f4ebfe")


def kvm_usable(log_path: Path) -> bool:
    """Whether KVM really runs a guest here: /dev/kvm opens and a one-sector guest boots under it.

    Nested virtualisation often offers a /dev/kvm that creates VMs but cannot run them (qemu dies
    on an MSR, or hangs), so a guest that prints on its serial port is the only honest test.
    """
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError:
        return False
    return accelerator_runs_guest("kvm", log_path)


def accelerator_runs_guest(accel: str, log_path: Path) -> bool:
    """Whether qemu with ``accel`` (kvm, tcg) boots a one-sector guest that writes to its serial port."""
    with tempfile.TemporaryDirectory(prefix="kvm-probe-") as tmp:
        disk, serial = Path(tmp) / "probe.img", Path(tmp) / "serial.txt"
        disk.write_bytes(_PROBE_CODE + bytes(510 - len(_PROBE_CODE)) + b"\x55\xaa")
        argv = ["qemu-system-x86_64", "-nodefaults", "-machine", f"pc,accel={accel}", "-cpu", "max"]
        argv += ["-display", "none", "-no-reboot", "-serial", f"file:{serial}"]
        argv += [
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-drive",
            f"file={disk},format=raw,if=ide",
        ]
        # The guest leaves through isa-debug-exit, so qemu always exits non-zero: judge by the serial port.
        with contextlib.suppress(StageFailure):
            base.run_tool(argv, log_path, timeout=KVM_PROBE_TIMEOUT)
        return serial.is_file() and serial.read_bytes().endswith(b"K")


def qemu_command(image: Path, boot: Path, console: Path, accel: str, extra_args: str = "") -> list[str]:
    """The qemu command line that boots ``image`` with the kernel files in ``boot`` (and ``extra_args``)."""
    cmdline = (boot / "cmdline").read_text(encoding="utf-8").strip()
    if extra_args:
        cmdline = f"{cmdline} {extra_args}"
    argv = ["qemu-system-x86_64", "-nodefaults", "-machine", f"q35,accel={accel}"]
    argv += ["-cpu", "max", "-m", "512", "-display", "none"]
    argv += ["-no-reboot", "-snapshot", "-serial", f"file:{console}", "-monitor", "none"]
    argv += ["-kernel", str(boot / "vmlinuz"), "-append", f"{cmdline} {FAST_BOOT_ARGS}"]
    if (boot / "initramfs.img").is_file():
        argv += ["-initrd", str(boot / "initramfs.img")]
    argv += ["-drive", f"file={image},if=none,id=disk0,format=qcow2", "-device", "nvme,drive=disk0,serial=ci"]
    return argv
