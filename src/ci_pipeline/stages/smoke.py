"""The smoke stage: boot the image in qemu and check what the booted system says it runs.

The image's init must print on the serial console (the example OS's ``ci-busybox`` does)::

    CI-PIPELINE-BOOTED
    CI-PIPELINE-OSTREE-COMMIT <checksum>   the deployment it booted (from ostree= on /proc/cmdline)
    CI-PIPELINE-COMMIT-FILE <checksum>     or: /usr/lib/ci-pipeline/commit; or CI-PIPELINE-COMMIT
    CI-PIPELINE-RPM <nvr>                  one per installed package (/usr/lib/ci-pipeline/nvr.d/*)
    CI-PIPELINE-BOOT-DONE

and then power off. The test passes when the commit is ``compose_rev`` and ``nvr`` is among the
RPMs. How the image boots is :mod:`~ci_pipeline.stages.qemu.boot`; its console is read by
:mod:`~ci_pipeline.stages.qemu.console` and kept as the artifact ``console.log``. After a pass
``latest-atomic.qcow2`` names the image.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.fields import checked_checksum, checked_nvr
from ci_pipeline.stages.qemu.boot import kvm_usable, qemu_command
from ci_pipeline.stages.qemu.bootdisk import LATEST, boot_dir, run_image
from ci_pipeline.stages.qemu.console import BootReport, console_tail, parse_console

DEFAULT_TIMEOUT = 300.0


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
