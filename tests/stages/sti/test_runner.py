"""How the test stages judge their results: pass, fail, broken playbook, no tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.sti.playbooks import PlaybookRun
from ci_pipeline.stages.sti.runner import Reported, judge, playbook_error

PASSED = base.TestCaseResult("adds", "PASSED", 0.1)
FAILED = base.TestCaseResult("divides", "FAILED", 0.1)


def test_all_passing_is_success_with_every_result() -> None:
    result = judge([PASSED, PASSED], [], "classic")
    assert result.summary == "2 tests passed (classic)." and list(result.tests) == [PASSED, PASSED]


def test_a_failed_test_is_named() -> None:
    with pytest.raises(StageFailure, match=r"^1 of 2 tests failed: divides\.$"):
        judge([PASSED, FAILED], [], "classic")


def test_nothing_for_the_tag_is_no_tests_made_visible() -> None:
    result = judge([], [], "atomic")
    assert result.summary == "no tests"
    assert [(t.name, t.outcome) for t in result.tests] == [("no tests", "SKIPPED")]


def test_a_broken_playbook_is_told_apart_from_failing_tests() -> None:
    run = PlaybookRun(Path("tests.yml"), 4, "ERROR! We were unable to read either as JSON nor YAML\n")
    with pytest.raises(StageFailure) as failure:
        judge([PASSED, playbook_error(run)], [run], "classic")
    message = str(failure.value)
    assert message.startswith("The test playbook could not run: an error in the playbook or the test subject")
    assert "could not be parsed" in message and "unable to read" in message
    assert "Failed tests" not in message


def test_a_broken_playbook_still_names_tests_that_failed_before() -> None:
    run = PlaybookRun(Path("tests_b.yml"), 3, "fatal: [subject]: UNREACHABLE!\n")
    with pytest.raises(StageFailure, match=r"Failed tests: divides\.\ntests_b.yml: the test subject"):
        judge([FAILED, playbook_error(run)], [run], "classic")


def test_playbook_error_is_an_error_result_with_ansibles_output() -> None:
    error = playbook_error(PlaybookRun(Path("tests.yml"), 1, "boom"))
    assert (error.name, error.outcome, error.log) == ("tests.yml (playbook error)", "ERROR", "boom")


def test_a_test_in_error_is_told_apart_from_a_failing_one() -> None:
    missing = base.TestCaseResult(
        "beaker", "ERROR", 0.0, "# beaker\nbeakerlib is not installed on the test subject.\n"
    )
    with pytest.raises(StageFailure) as failure:
        judge([PASSED, missing], [], "classic")
    assert str(failure.value) == (
        "1 of 2 tests could not run (an error, not a failing test): "
        "beaker (beakerlib is not installed on the test subject)."
    )
    with pytest.raises(StageFailure, match=r"^1 of 3 tests failed: divides\. 1 could not run: beaker \("):
        judge([PASSED, FAILED, missing], [], "classic")


def test_results_yml_is_read_in_preference_to_test_log(tmp_path: Path) -> None:
    reported = Reported(tmp_path)
    (tmp_path / "test.log").write_text("PASS only-in-test-log\n")
    assert [t.name for t in reported.new_results()] == ["only-in-test-log"]
    (tmp_path / "test.log").write_text("PASS only-in-test-log\nPASS a\n")
    (tmp_path / "results.yml").write_text("results:\n- {test: a, result: fail}\n")
    assert [(t.name, t.outcome) for t in reported.new_results()] == [("a", "FAILED")]
    assert reported.new_results() == []
    (tmp_path / "results.yml").write_text("results: 3\n")
    [error] = reported.new_results()
    assert (error.name, error.outcome) == ("results.yml (unreadable)", "ERROR")
