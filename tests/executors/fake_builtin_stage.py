"""A built-in stage implementation for the executor tests (imported by the stage worker process)."""

from __future__ import annotations

import time

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult, run_tool


def run(ctx: StageContext) -> StageResult:
    """Write to the log and artifacts, hand on an output, and report two tests."""
    with ctx.log_path.open("a", encoding="utf-8") as log:
        log.write(f"fake stage {ctx.stage} of run {ctx.run_id}, repo {ctx.fields['repo']}\n")
    (ctx.artifacts_dir / "made.txt").write_text(ctx.options.get("flavour", "plain"))
    tests = (
        TestCaseResult("boots", "PASSED", 0.25, "it booted"),
        TestCaseResult("ssh", "FAILED", 1.5, "connection refused"),
    )
    return StageResult(outputs={"marker": "abc123"}, summary="two tests", tests=tests)


def fail(ctx: StageContext) -> StageResult:
    """A stage whose work fails."""
    raise StageFailure(f"The {ctx.stage} stage found nothing to do.")


def flaky(ctx: StageContext) -> StageResult:
    """A stage whose machinery fails."""
    raise InfrastructureError("The test machine went away.")


def crash(ctx: StageContext) -> StageResult:
    """A stage with a bug."""
    raise ZeroDivisionError("division by zero")


def fail_with_tests(ctx: StageContext) -> StageResult:
    """A test stage one of whose tests failed: it fails, and still reports every test."""
    tests = (TestCaseResult("boots", "PASSED", 0.25), TestCaseResult("ssh", "FAILED", 1.5, "refused"))
    raise StageFailure("1 of 2 tests failed: ssh.", tests=tests)


def leave_daemon(ctx: StageContext) -> StageResult:
    """A stage one of whose tools (like a build's ``%check``) leaves a daemon running, and succeeds."""
    from helpers import escaping_children, wait_for_marked  # the worker has this folder on its path

    marker = ctx.options["marker"]
    run_tool(["bash", "-c", escaping_children(marker)], ctx.log_path)
    pids = wait_for_marked(marker, 2)
    return StageResult(outputs={"left": " ".join(map(str, pids))})


def hang_with_daemon(ctx: StageContext) -> StageResult:
    """A stage that leaves a daemon running and then never ends."""
    leave_daemon(ctx)
    time.sleep(1000)
    raise AssertionError("unreachable")
