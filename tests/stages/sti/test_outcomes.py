"""One stage result from an STI and a tmt run: both reasons when either failed, one JUnit report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.base import StageResult
from ci_pipeline.stages.sti.outcomes import combine, outcome_of
from stages.contexts import compose_context

PASSED = base.TestCaseResult(name="sti-ok", outcome="PASSED")
FAILED = base.TestCaseResult(name="/plans/all /tests/fails", outcome="FAILED")


def failing() -> StageResult:
    raise StageFailure("1 of 1 tests failed: /plans/all /tests/fails.", tests=[FAILED])


def test_outcome_of_returns_the_result_or_the_failure_raised() -> None:
    assert outcome_of(lambda: StageResult(summary="ok", tests=[PASSED])).tests == [PASSED]
    failure = outcome_of(failing)
    assert isinstance(failure, StageFailure) and failure.tests == (FAILED,)


def test_outcome_of_lets_other_errors_through() -> None:
    def broken() -> StageResult:
        raise RuntimeError("not a test failure")

    with pytest.raises(RuntimeError):
        outcome_of(broken)


def test_a_failure_of_either_fails_the_stage_with_every_test_and_one_report(tmp_path: Path) -> None:
    ctx = compose_context(tmp_path, {})
    sti = StageResult(summary="1 test passed.", tests=[PASSED])
    with pytest.raises(StageFailure, match="tests failed") as caught:
        combine(ctx, "suite", [sti, outcome_of(failing)])
    assert [test.name for test in caught.value.tests] == ["sti-ok", "/plans/all /tests/fails"]
    suite = ET.parse(ctx.artifacts_dir / "results.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2"


def test_passing_runs_join_their_summaries_and_one_run_writes_no_second_report(tmp_path: Path) -> None:
    ctx = compose_context(tmp_path, {})
    first, second = StageResult(summary="a.", tests=[PASSED]), StageResult(summary="b.", tests=[PASSED])
    both = combine(ctx, "suite", [first, second])
    assert both.summary == "a. b." and len(both.tests) == 2
    (ctx.artifacts_dir / "results.xml").unlink()
    assert combine(ctx, "suite", [first]).summary == "a."
    assert not (ctx.artifacts_dir / "results.xml").exists()
