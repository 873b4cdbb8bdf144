"""Built-in stage implementations whose outcomes carry what a store refuses (imported by the stage worker).

A run of the repository ``poison`` gets them; any other run gets a plain success, so a test can
show that the scheduler goes on with other runs.
"""

from __future__ import annotations

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult

#: Text every store refuses as it is: NUL, a lone surrogate (as surrogateescape makes), and length.
POISON = "make check printed \x00 and \udcff then " + "x" * 400
POISON_TESTS = (
    TestCaseResult("nul\x00test", "FAILED", 0.5, "output\x00here"),
    TestCaseResult("long-" + "n" * 400, "PASSED", 0.25, "\udcff"),
)


def succeed(ctx: StageContext) -> StageResult:
    """Success, with NUL and a lone surrogate in an output and in the names and logs of its tests."""
    if ctx.fields["repo"] != "poison":
        return StageResult(outputs={"marker": "plain"})
    return StageResult(outputs={"marker": "a\x00b\udcff"}, tests=POISON_TESTS)


def fail(ctx: StageContext) -> StageResult:
    """Failure, with NUL, a lone surrogate and too much text in its reason and its tests."""
    if ctx.fields["repo"] != "poison":
        return StageResult()
    raise StageFailure(POISON, tests=POISON_TESTS)


def succeed_with_tests(ctx: StageContext) -> StageResult:
    """A plain success that reports one test."""
    return StageResult(tests=(TestCaseResult("boots", "PASSED", 0.25, "it booted"),))
