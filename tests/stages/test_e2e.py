"""Unit tests of the e2e stage's decisions: machine count, results, verdicts, no suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.config import ArtifactsConfig, Config
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.e2e import (
    NO_E2E_TESTS,
    collect_results,
    judge_machines,
    judge_tests,
    machine_count,
    run,
)
from ci_pipeline.stages.qemu.console import parse_e2e_console
from ci_pipeline.stages.qemu.machines import plan_machines

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
IMAGE = "fedora-atomic-26.1-c15b07cc0f560dd.qcow2"


def _context(tmp_path: Path, **options: str) -> StageContext:
    images = tmp_path / "artifacts" / "f26" / "images"
    (images / IMAGE.replace(".qcow2", ".boot")).mkdir(parents=True)
    (images / IMAGE).write_bytes(b"qcow2")
    (images / IMAGE.replace(".qcow2", ".boot") / "vmlinuz").write_bytes(b"kernel")
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


@pytest.mark.parametrize(
    ("options", "count"), [({}, 2), ({"e2e_machines": "1"}, 1), ({"e2e_machines": "16"}, 16)]
)
def test_the_machine_count_defaults_to_two(options: dict[str, str], count: int) -> None:
    assert machine_count(options) == count


@pytest.mark.parametrize("value", ["0", "17", "-1", "two", "1.5"])
def test_a_bad_machine_count_is_refused(value: str) -> None:
    with pytest.raises(StageFailure, match="e2e_machines"):
        machine_count({"e2e_machines": value})


def test_without_a_configured_suite_the_stage_succeeds_with_a_visible_skip(tmp_path: Path) -> None:
    result = run(_context(tmp_path))
    assert result.summary == NO_E2E_TESTS
    assert [(t.name, t.outcome) for t in result.tests] == [(NO_E2E_TESTS, "SKIPPED")]
    assert b"<skipped" in (tmp_path / "out" / "results.xml").read_bytes()


def test_results_are_named_machine_slash_test_and_missing_ones_are_errors(tmp_path: Path) -> None:
    machines = plan_machines(2, tmp_path)
    reports = {
        "machine1": parse_e2e_console(
            "CI-PIPELINE-E2E-START a\nok\nCI-PIPELINE-E2E PASS a\nCI-PIPELINE-E2E FAIL b\n"
        ),
        "machine2": parse_e2e_console("CI-PIPELINE-E2E PASS a\n"),
    }
    results = collect_results(machines, reports, ["a", "b"])
    assert [(r.name, r.outcome) for r in results] == [
        ("machine1/a", "PASSED"),
        ("machine1/b", "FAILED"),
        ("machine2/a", "PASSED"),
        ("machine2/b", "ERROR"),
    ]
    assert results[0].log == "ok"


def test_failed_tests_are_named_in_the_failure() -> None:
    results = [
        base.TestCaseResult("machine1/a", "PASSED"),
        base.TestCaseResult("machine2/a", "FAILED", log="peer unreachable"),
    ]
    expected = r"1 of 2 e2e tests failed: machine2/a\.\nmachine2/a:\npeer unreachable"
    with pytest.raises(StageFailure, match=expected):
        judge_tests(results, 2, "tcg", 10.0)
    passed = judge_tests(results[:1], 1, "tcg", 10.0)
    assert passed.summary == "1 e2e tests passed on 1 machines (tcg, 10 s)."


@pytest.mark.parametrize(
    ("status", "console", "reason"),
    [
        (None, "CI-PIPELINE-BOOTED\n", "did not finish the e2e suite within 300 s"),
        (0, "", "did not boot"),
        (0, "CI-PIPELINE-BOOTED\nCI-PIPELINE-E2E-ERROR no disk\n", "powered off before finishing.*no disk"),
    ],
)
def test_a_machine_that_did_not_finish_fails_with_its_console(
    tmp_path: Path, status: int | None, console: str, reason: str
) -> None:
    ctx = _context(tmp_path)
    machines = plan_machines(1, tmp_path)
    machines[0].console.write_text(console + "last console line\n")
    reports = {"machine1": parse_e2e_console(console)}
    with pytest.raises(StageFailure, match=f"machine1 {reason}(.|\n)*last console line"):
        judge_machines(ctx, machines, {"machine1": status}, reports, 300.0)


def test_machines_that_finished_pass_judgement(tmp_path: Path) -> None:
    machines = plan_machines(1, tmp_path)
    reports = {"machine1": parse_e2e_console("CI-PIPELINE-BOOTED\nCI-PIPELINE-E2E-DONE\n")}
    judge_machines(_context(tmp_path), machines, {"machine1": 0}, reports, 300.0)
    assert reports["machine1"].done
