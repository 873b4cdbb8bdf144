"""The accelerator that really runs a guest here: KVM where ``/dev/kvm`` boots one, else TCG.

Nested virtualisation may run a plain boot sector under KVM yet fail on a boot loader's mode
switches ("KVM internal error"); :data:`KVM_FAILURE` is how qemu says so, and the machine layer
then boots again under TCG (:mod:`~ci_pipeline.machines.cluster`) and remembers it until the
host reboots (:func:`mark_kvm_broken`), so later stages boot under TCG straight away.
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
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
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
    if kvm_seen_failing():
        return "tcg"
    return "kvm" if kvm_usable(log_path) else "tcg"


def mark_kvm_broken(why: str) -> None:
    """Remember, until this host reboots, that KVM could not run an image here: boot later ones under TCG.

    Stage attempts are processes of their own, so the memory is a file (private to this user,
    never followed through a symbolic link) naming the host's boot.
    """
    _KVM_BROKEN.add(why)
    with contextlib.suppress(OSError):
        descriptor = os.open(
            kvm_failure_record(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        with os.fdopen(descriptor, "w", encoding="utf-8") as record:
            record.write(f"{host_boot_id()}\n{why[:500]}\n")


def kvm_seen_failing() -> bool:
    """Whether KVM failed to run an image in this process, or anywhere on this host since it booted."""
    if _KVM_BROKEN:
        return True
    try:
        first_line = kvm_failure_record().read_text(encoding="utf-8").partition("\n")[0]
    except (OSError, UnicodeDecodeError):
        return False
    return bool(first_line) and first_line == host_boot_id()


def kvm_failure_record() -> Path:
    """The file that remembers a KVM failure: in the temporary directory, one per user."""
    return Path(tempfile.gettempdir()) / f"ci-pipeline-kvm-failed-{os.getuid()}"


def host_boot_id() -> str:
    """This boot of the host (the kernel's random boot id), "" where the kernel does not say."""
    try:
        return BOOT_ID.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
