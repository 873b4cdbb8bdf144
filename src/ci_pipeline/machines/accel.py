"""The accelerator that really runs a guest here: KVM where ``/dev/kvm`` boots one, else TCG.

Nested virtualisation may run a plain boot sector under KVM yet fail on a boot loader's mode
switches ("KVM internal error"); :data:`KVM_FAILURE` is how qemu says so, and the machine layer
then boots again under TCG (:mod:`~ci_pipeline.machines.cluster`) and remembers it
(:func:`mark_kvm_broken`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base

KVM_PROBE_TIMEOUT = 10.0
#: What qemu prints when KVM cannot run the guest's code, and pauses the guest.
KVM_FAILURE = "KVM internal error"
_KVM_BROKEN: set[str] = set()
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


def choose_accel(requested: str, log_path: Path) -> str:
    """``requested`` (``kvm`` or ``tcg``) when given, else KVM where it runs guests, else TCG."""
    if requested:
        if requested not in ("kvm", "tcg"):
            raise StageFailure(f"The accelerator {requested!r} is neither kvm nor tcg.")
        return requested
    if _KVM_BROKEN:
        return "tcg"
    return "kvm" if kvm_usable(log_path) else "tcg"


def mark_kvm_broken(why: str) -> None:
    """Remember, for this process, that KVM could not run an image here: boot later ones under TCG."""
    _KVM_BROKEN.add(why)
