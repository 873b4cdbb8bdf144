"""Unit tests of the smoke stage: console parsing, verdicts, qemu command line, latest link."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.stages.qemu.bootdisk import LATEST
from ci_pipeline.stages.qemu.console import parse_console
from ci_pipeline.stages.smoke import check_report, point_latest

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
NVR = "vim-7.4.160-1.200.591b0d2.fc26"
GOOD = f"""SeaBIOS noise\r
CI-PIPELINE-BOOTED\r
CI-PIPELINE-COMMIT-FILE {"0" * 64}
CI-PIPELINE-OSTREE-COMMIT {REV}
CI-PIPELINE-RPM {NVR}
CI-PIPELINE-RPM ci-busybox-1.0-2.fc26
CI-PIPELINE-BOOT-DONE
[    5.3] reboot: Power down
"""


def test_a_complete_console_passes() -> None:
    report = parse_console(GOOD)
    assert report.booted and report.done
    assert report.commit == REV  # the deployment's own name beats the commit file
    assert [case.outcome for case in check_report(report, REV, NVR, 1.0)] == ["PASSED"] * 3


def test_wrong_commit_and_missing_package_fail_with_reasons() -> None:
    report = parse_console(GOOD.replace(REV, "f" * 64).replace(NVR, "vim-7.4.160-1.fc26"))
    cases = {case.name: case for case in check_report(report, REV, NVR, 1.0)}
    assert cases["boot"].outcome == "PASSED"
    assert cases["commit"].outcome == "FAILED" and "f" * 64 in cases["commit"].log
    assert cases["nvr"].outcome == "FAILED" and NVR in cases["nvr"].log


def test_a_console_that_stops_early_fails_the_boot_case() -> None:
    report = parse_console("CI-PIPELINE-BOOTED\n")
    assert check_report(report, REV, NVR, 1.0)[0].outcome == "FAILED"


def test_latest_link_is_replaced(tmp_path: Path) -> None:
    point_latest(tmp_path, "one.qcow2")
    point_latest(tmp_path, "two.qcow2")
    assert (tmp_path / LATEST).readlink() == Path("two.qcow2")
    assert [p.name for p in tmp_path.iterdir()] == [LATEST]
