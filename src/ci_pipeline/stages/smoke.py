"""The smoke stage: boot the image in qemu and check what the booted system says it runs.

The image's init must print on the serial console (the example OS's ``ci-busybox`` does)::

    CI-PIPELINE-BOOTED
    CI-PIPELINE-OSTREE-COMMIT <checksum>   the deployment it booted (from ostree= on /proc/cmdline)
    CI-PIPELINE-COMMIT-FILE <checksum>     or: /usr/lib/ci-pipeline/commit; or CI-PIPELINE-COMMIT
    CI-PIPELINE-RPM <nvr>                  one per installed package (/usr/lib/ci-pipeline/nvr.d/*)
    CI-PIPELINE-BOOT-DONE

and then power off. The test passes when the commit is ``compose_rev`` and ``nvr`` is among the
RPMs. The kernel boots directly (``-kernel``/``-initrd``/``-append`` from the image's ``.boot``
directory), the disk is an NVMe device (its driver is built into common kernels) opened with
``-snapshot`` so the published image stays untouched. KVM is used where ``/dev/kvm`` works, else TCG.
The console is kept as the artifact ``console.log``; after a pass ``latest-atomic.qcow2`` names the image.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logtail import log_tail
from ci_pipeline.stages import base
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.branch_artifacts import BranchArtifacts, checked_checksum, checked_nvr
from ci_pipeline.stages.image import IMAGE_PREFIX, LATEST, boot_dir

DEFAULT_TIMEOUT = 300.0
CONSOLE_TAIL_LINES = 25
#: Kernel arguments that shorten an emulated boot: no probing of absent hardware, quiet console.
FAST_BOOT_ARGS = (
    "quiet loglevel=3 tsc=reliable no_timer_check i8042.noaux i8042.nokbd i8042.nopnp 8250.nr_uarts=1"
)
KVM_PROBE_TIMEOUT = 10.0
#: A boot sector: write "K" to COM1, then leave through qemu's isa-debug-exit port.
_PROBE_CODE = bytes.fromhex("baf803b04beeb031e6f4f4ebfe")
_IMAGE_NAME = re.compile(rf"{IMAGE_PREFIX}[0-9]+\.[0-9]+-[0-9a-f]{{15}}\.qcow2")
_COMMIT_KEYS = ("CI-PIPELINE-OSTREE-COMMIT", "CI-PIPELINE-COMMIT-FILE", "CI-PIPELINE-COMMIT")


@dataclass
class BootReport:
    """What the booted system said on its console."""

    booted: bool = False
    done: bool = False
    commits: dict[str, str] = field(default_factory=dict)
    rpms: list[str] = field(default_factory=list)

    @property
    def commit(self) -> str:
        """The booted commit, the most trustworthy report first (the deployment's own name)."""
        return next((self.commits[key] for key in _COMMIT_KEYS if key in self.commits), "")


def parse_console(text: str) -> BootReport:
    """Read the ``CI-PIPELINE-*`` lines of a serial console (other lines and noise are ignored)."""
    report = BootReport()
    for raw in text.splitlines():
        line = raw.strip().strip("\x00")
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "CI-PIPELINE-BOOTED":
            report.booted = True
        elif key == "CI-PIPELINE-BOOT-DONE":
            report.done = True
        elif key in _COMMIT_KEYS and value:
            report.commits.setdefault(key, value)
        elif key == "CI-PIPELINE-RPM" and value:
            report.rpms.append(value)
    return report


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


def boot_image(image: Path, console: Path, log_path: Path, *, accel: str, timeout: float) -> BootReport:
    """Boot ``image`` until it powers off (or ``timeout``), and read its console."""
    console.parent.mkdir(parents=True, exist_ok=True)
    console.write_bytes(b"")
    try:
        base.run_tool(qemu_command(image, boot_dir(image), console, accel), log_path, timeout=timeout)
    except StageFailure as exc:
        # run_tool has killed qemu's process group; the console says more than qemu's own log.
        raise StageFailure(
            f"The image did not boot and power off: {_first_line(exc)}\n{console_tail(console)}"
        ) from exc
    return parse_console(console.read_text(encoding="utf-8", errors="replace"))


def console_tail(console: Path) -> str:
    """The console's last lines, for a failure reason."""
    return log_tail(console, CONSOLE_TAIL_LINES)


def run(ctx: StageContext) -> StageResult:
    """Boot the run's image and check its commit and package; see the module docstring."""
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    rev, nvr = checked_checksum(ctx.fields), checked_nvr(ctx.fields)
    image = run_image(artifacts, ctx.fields)
    name = image.name
    accel = ctx.options.get("smoke_accel") or ("kvm" if kvm_usable(ctx.log_path) else "tcg")
    console = ctx.artifacts_dir / "console.log"
    started = time.monotonic()
    report = boot_image(image, console, ctx.log_path, accel=accel, timeout=ctx.timeout or DEFAULT_TIMEOUT)
    tests = check_report(report, rev, nvr, time.monotonic() - started)
    failed = [test for test in tests if test.outcome != "PASSED"]
    if failed:
        raise StageFailure(f"{failed[0].log}\n{console_tail(console)}")
    point_latest(artifacts.images_dir, name)
    return StageResult(summary=f"{name} booted commit {rev[:15]} with {nvr} ({accel}).", tests=tests)


def run_image(artifacts: BranchArtifacts, fields: Mapping[str, str]) -> Path:
    """The run's image (``image_name``), checked to be one this pipeline builds and to have its boot files."""
    name = fields.get("image_name", "")
    if not _IMAGE_NAME.fullmatch(name):
        raise StageFailure(f"The run's image_name {name!r} is not an image this pipeline builds.")
    image = artifacts.images_dir / name
    if not image.is_file() or not (boot_dir(image) / "vmlinuz").is_file():
        raise StageFailure(f"The image {name} or its boot files are missing under {artifacts.images_dir}.")
    return image


def check_report(report: BootReport, rev: str, nvr: str, duration: float) -> list[TestCaseResult]:
    """The smoke test's cases: it booted to the end, runs ``rev``, has ``nvr``."""
    booted = report.booted and report.done
    return [
        _case("boot", booted, duration, "The image did not report a complete boot (CI-PIPELINE-BOOT-DONE)."),
        _case(
            "commit",
            report.commit == rev,
            0.0,
            f"The booted system runs commit {report.commit or 'unknown'}, not {rev}.",
        ),
        _case("nvr", nvr in report.rpms, 0.0, f"The booted system does not have {nvr} installed."),
    ]


def point_latest(images: Path, name: str) -> None:
    """Make ``latest-atomic.qcow2`` a link to ``name``, replacing the old link atomically."""
    staging = images / f".{LATEST}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    staging.symlink_to(name)
    os.replace(staging, images / LATEST)


def _case(name: str, passed: bool, duration: float, reason: str) -> TestCaseResult:
    return TestCaseResult(
        name=name, outcome="PASSED" if passed else "FAILED", duration=duration, log="" if passed else reason
    )


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
