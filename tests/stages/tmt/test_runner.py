"""Running tmt, judging its results, and telling tmt's own errors apart from failing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline import stage_contract as contract
from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.tmt.runner import TmtRun, host_key_refusal, judge_tmt, plan_error, run_tmt, tmt_reason
from ci_pipeline.stages.tools import Deadline
from stages.contexts import tmp_context

OUTPUT = """\
/plans/all
    discover
        summary: 2 tests selected
    execute
        how: no-such-executor
        fail: Unsupported execute method 'no-such-executor' in the '/plans/all' plan.

plan failed.

The exception was caused by 1 earlier exceptions

Cause number 1:

    execute step failed
"""


def _tests(*outcomes: str) -> list[contract.TestCaseResult]:
    return [contract.TestCaseResult(f"/plans/p /t{n}", outcome) for n, outcome in enumerate(outcomes)]


def test_tmts_reason_is_its_fail_lines_else_its_causes_else_its_tail() -> None:
    assert tmt_reason(TmtRun(2, OUTPUT)) == (
        "tmt could not run the plan: Unsupported execute method 'no-such-executor' in the '/plans/all' plan."
    )
    causes = "plan failed.\nCause number 1:\n    Guest cannot be reached\n"
    assert tmt_reason(TmtRun(2, causes)).endswith("Guest cannot be reached")
    assert tmt_reason(TmtRun(127, "")) == "tmt could not run the plan: tmt exited with status 127."
    error = plan_error("/plans/all", TmtRun(2, OUTPUT))
    assert (error.name, error.outcome) == ("/plans/all (tmt error)", "ERROR")


def test_a_machine_refused_for_a_changed_host_key_is_named_as_such(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text(
        "03:22:26         stderr: @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
        "03:22:26         stderr: Host key for [127.0.0.1]:34493 has changed and you have requested"
        " strict checking.\n03:22:26         stderr: Host key verification failed.\n"
    )
    refusal = host_key_refusal(log)
    assert refusal == (
        "ssh refused the machine, whose host key is not the one recorded: Host key for [127.0.0.1]:34493 "
        "has changed and you have requested strict checking."
    )
    causes = "plan failed.\nCause number 1:\n    Failed to connect to the guest 'default-0' in 5.0s\n"
    error = plan_error("/plans/all", TmtRun(2, causes), refusal)
    assert error.log.splitlines() == [
        "tmt could not run the plan: Failed to connect to the guest 'default-0' in 5.0s",
        refusal,
    ]
    quoted = r"/plans/all \(tmt error\) \(ssh refused the machine, whose host key is not the one recorded"
    with pytest.raises(StageFailure, match=quoted):
        judge_tmt([error])
    log.write_text("03:22:26         stderr: Connection refused\n")
    assert host_key_refusal(log) == host_key_refusal(tmp_path / "missing") == ""


def test_passing_and_informing_tests_pass_the_stage() -> None:
    assert judge_tmt(_tests("PASSED", "INFO", "SKIPPED")).summary == "2 tests passed (tmt)."


def test_no_test_run_is_success_with_a_visible_no_tests() -> None:
    result = judge_tmt(_tests("SKIPPED"))
    assert result.summary == "no tests" and result.tests[-1].log == "The tmt plans ran no test."


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        (("PASSED", "FAILED"), r"^1 of 2 tests failed: /plans/p /t1\.$"),
        (("PASSED", "NEEDS_INSPECTION"), r"^1 of 2 tests warned: /plans/p /t1\.$"),
        (("PASSED", "ERROR"), r"^1 of 2 tests could not run \(an error, not a failing test\)"),
    ],
)
def test_failures_warnings_and_errors_fail_the_stage_told_apart(
    outcomes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(StageFailure, match=message) as caught:
        judge_tmt(_tests(*outcomes))
    assert len(caught.value.tests) == len(outcomes)


def test_run_tmt_runs_in_the_workdir_and_logs_its_output(tmp_path: Path) -> None:
    ctx = tmp_context(tmp_path, "functional", {}, Config())
    argv = ["sh", "-c", 'echo "$PWD $TMT_NO_COLOR"; exit 3']
    assert run_tmt(argv, ctx, Deadline(None)) == TmtRun(3, f"{ctx.workdir} 1\n")
    assert ctx.log_path.read_text() == f"$ {' '.join(argv)}\n{ctx.workdir} 1\n"


def test_run_tmt_words_an_overrun_and_a_missing_tmt(tmp_path: Path) -> None:
    ctx = tmp_context(tmp_path, "functional", {}, Config())
    with pytest.raises(StageFailure, match=r"^tmt did not finish within 1 s\.$"):
        run_tmt(["sleep", "5"], ctx, Deadline(0.1, "functional"))
    with pytest.raises(InfrastructureError, match=r"^tmt \(/nonexistent/tmt\) is not installed\.$"):
        run_tmt(["/nonexistent/tmt"], ctx, Deadline(None))
