"""The smoke stage: boot the image, reach it over SSH, and ask it what it runs.

One machine comes from the stage's provisioner (``[provision.smoke]``,
:func:`~ci_pipeline.provision.leasing.provisioned_hosts`): by default it boots from the run's image
(qemu: an overlay, a NoCloud seed with a fresh key, SSH on a forwarded port); a lab member deploys
the compose's commit onto a leased host instead. Its test cases:

- ``boot``: the machine answers ``ssh ... true`` within the stage's timeout;
- ``commit``: its booted deployment (``rpm-ostree status --json``, else ``ostree admin status``) is
  ``compose_rev``;
- ``nvr``: ``rpm -q <nvr>`` finds the change's package.

A failure names the failed step and carries the console's tail where the machine has one (qemu
keeps it as the artifact ``smoke.console.log``). After a pass ``latest-atomic.qcow2`` names the image.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.machines import deployment
from ci_pipeline.provision.base import Host
from ci_pipeline.provision.leasing import provisioned_hosts, stage_deployment
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.fields import checked_checksum, checked_nvr
from ci_pipeline.stages.qemu.bootdisk import LATEST, run_image

MACHINE_NAME = "smoke"


def run(ctx: StageContext) -> StageResult:
    """Boot the run's image and check its commit and package; see the module docstring."""
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    rev, nvr = checked_checksum(ctx.fields), checked_nvr(ctx.fields)
    image = run_image(artifacts, ctx.fields)
    started = time.monotonic()
    try:
        with provisioned_hosts(
            ctx, stage_deployment(ctx, image, rev, artifacts.compose_url, [MACHINE_NAME])
        ) as hosts:
            tests = check_machine(hosts[0], rev, nvr, time.monotonic() - started)
            where = hosts[0].name
    except StageFailure as exc:
        if exc.tests:
            raise
        boot = _case("boot", False, time.monotonic() - started, str(exc))
        raise StageFailure(
            f"Smoke step boot failed: {image.name} did not answer over SSH. {exc}", tests=[boot]
        ) from exc
    point_latest(artifacts.images_dir, image.name)
    return StageResult(summary=f"{image.name} booted commit {rev[:15]} with {nvr} on {where}.", tests=tests)


def check_machine(host: Host, rev: str, nvr: str, boot_seconds: float) -> list[TestCaseResult]:
    """The smoke cases on a host that answers; StageFailure naming the first failed step."""
    tests = [_case("boot", True, boot_seconds, "")]
    started = time.monotonic()
    booted = deployment.booted_checksum(host.ssh)
    tests.append(
        _case(
            "commit",
            booted == rev,
            time.monotonic() - started,
            f"The machine booted commit {booted}, not {rev}.",
        )
    )
    started = time.monotonic()
    found, said = deployment.package_installed(host.ssh, nvr)
    tests.append(
        _case("nvr", found, time.monotonic() - started, f"rpm -q {nvr} does not find the package: {said}")
    )
    failed = [test for test in tests if test.outcome != "PASSED"]
    if failed:
        raise StageFailure(
            f"Smoke step {failed[0].name} failed: {failed[0].log}\n{host.console_tail()}", tests=tests
        )
    return tests


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
