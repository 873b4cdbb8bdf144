"""Unit tests of the e2e stage's decisions: machine count, suite paths, verdicts, no suite."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ci_pipeline.config import ArtifactsConfig, Config, E2EConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.provision.base import Host
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.base import TestCaseResult as CaseResult
from ci_pipeline.stages.e2e import NO_E2E_TESTS, conformance, judge_tests, run, suite_file
from ci_pipeline.stages.tools import Deadline

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
IMAGE = "fedora-atomic-26.1-c15b07cc0f560dd.qcow2"


def _context(tmp_path: Path, **options: str) -> StageContext:
    images = tmp_path / "artifacts" / "f26" / "images"
    images.mkdir(parents=True)
    (images / IMAGE).write_bytes(b"qcow2")
    (tmp_path / "work").mkdir()
    return StageContext(
        run_id=1,
        stage="e2e",
        attempt=1,
        fields={"branch": "f26", "compose_rev": REV, "image_name": IMAGE},
        workdir=tmp_path / "work",
        artifacts_dir=tmp_path / "out",
        artifacts_url="http://example.test/1",
        log_path=tmp_path / "stage.log",
        config=Config(artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url="http://a.test")),
        options=options,
    )


def test_without_a_configured_suite_the_stage_succeeds_with_a_visible_skip(tmp_path: Path) -> None:
    result = run(_context(tmp_path))
    assert result.summary == NO_E2E_TESTS
    assert [(t.name, t.outcome) for t in result.tests] == [(NO_E2E_TESTS, "SKIPPED")]
    assert b"<skipped" in (tmp_path / "out" / "results.xml").read_bytes()


def test_suite_paths_stay_inside_the_repository(tmp_path: Path) -> None:
    assert suite_file(tmp_path, "e2e/install.yml") == (tmp_path / "e2e/install.yml").resolve()
    for bad in ("../outside.yml", "/etc/passwd", ""):
        with pytest.raises(StageFailure, match="not inside"):
            suite_file(tmp_path, bad)


def test_failed_cases_are_named_in_the_failure() -> None:
    results = [
        CaseResult(name="reach.node1-serves-node2", outcome="PASSED"),
        CaseResult(name="reach.node2-serves-node1", outcome="FAILED", log="connection refused"),
    ]
    with pytest.raises(StageFailure, match=r"1 of 2 e2e tests failed: reach\.node2-serves-node1") as failure:
        judge_tests(results, 2, 1.0)
    assert "connection refused" in str(failure.value) and len(failure.value.tests) == 2
    assert judge_tests(results[:1], 2, 1.0).summary.startswith("1 e2e tests passed on 2 machines")


#: A conformance command that asks ssh, through E2E_SSH as a script runs it, which settings it would use.
_SHOW_SSH_SETTINGS = (
    'eval "$E2E_SSH -G -p 2200 10.0.0.5" > "$OUT/ssh-settings"; '
    """printf '<testsuite><testcase name="shown"/></testsuite>' > "$E2E_JUNIT\""""
)


def _ssh_settings(tmp_path: Path, known_hosts: Path | None) -> dict[str, str]:
    """What ssh makes of ``E2E_SSH -p 2200 10.0.0.5`` for the conformance command of a host."""
    ctx = _context(tmp_path)
    e2e = E2EConfig(conformance=_SHOW_SSH_SETTINGS)
    ctx = replace(ctx, config=ctx.config.model_copy(update={"e2e": e2e}))
    host = Host("node1", "10.0.0.5", 2200, "admin", tmp_path / "id_ed25519", known_hosts=known_hosts)
    (tmp_path / "suite").mkdir()
    settings = {"E2E_IMAGE": IMAGE, "OUT": str(tmp_path)}
    conformance(ctx, tmp_path / "suite", [host], tmp_path / "inventory.json", settings, Deadline(60.0))
    lines = (tmp_path / "ssh-settings").read_text().splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)


def test_e2e_ssh_checks_a_lab_host_s_key_against_its_known_hosts(tmp_path: Path) -> None:
    known = tmp_path / "state dir" / "known_hosts"
    shown = _ssh_settings(tmp_path, known)
    assert shown["stricthostkeychecking"] == "accept-new" and shown["userknownhostsfile"] == str(known)
    assert (shown["user"], shown["port"], shown["hostname"]) == ("admin", "2200", "10.0.0.5")
    assert shown["identitiesonly"] == "yes"


def test_e2e_ssh_records_no_key_of_a_machine_booted_for_the_run(tmp_path: Path) -> None:
    shown = _ssh_settings(tmp_path, None)
    assert shown["stricthostkeychecking"] == "false" and shown["userknownhostsfile"] == "/dev/null"
