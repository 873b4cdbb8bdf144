"""One stage result from several suites run on one subject: a stage that runs a repository's STI
playbooks and its tmt plans (the functional and integration stages) runs both, whatever the first
reported, and fails when either failed, with both reasons."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.sti.results import write_junit


def outcome_of(run: Callable[..., StageResult], *args: Any) -> StageResult | StageFailure:
    """What ``run(*args)`` ended with: its result, or the StageFailure it raised (the other suite
    still runs)."""
    try:
        return run(*args)
    except StageFailure as failure:
        return failure


def combine(ctx: StageContext, suite: str, outcomes: Sequence[StageResult | StageFailure]) -> StageResult:
    """One stage result from the STI and the tmt runs: it fails when either failed, with both reasons;
    one JUnit report holds every test."""
    tests = [test for outcome in outcomes for test in outcome.tests]
    if len(outcomes) > 1:
        write_junit(ctx.artifacts_dir, suite, tests)
    failures = [outcome for outcome in outcomes if isinstance(outcome, StageFailure)]
    if failures:
        raise StageFailure(" ".join(str(failure) for failure in failures), tests=tests)
    summary = " ".join(outcome.summary for outcome in outcomes if isinstance(outcome, StageResult))
    return StageResult(summary=summary, tests=tests)
