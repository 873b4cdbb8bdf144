"""Running a checkout's tmt plans against one subject with ``tmt run``, and judging what they report.

The functional stage gives a sandboxed tree (:func:`~.command.sandbox_provision`); a stage with a
booted machine gives its SSH target (:func:`~.command.connect_provision`): everything else is the
same. tmt's run directory (each plan's ``results.yaml``, test outputs, ``log.txt``) is kept among the
stage's artifacts under ``tmt/``.

tmt's exit status says how the run went: 0 all passed, 1 a test failed or warned, 2 an error, 3 no
results, 4 all skipped. A plan tmt could not run to its tests (an invalid plan, a requirement the
subject lacks, a subject it cannot reach) is an ERROR result named ``<plan> (tmt error)`` whose log
is tmt's reason: the stage fails as one whose tests could not run, never as a failing test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import GroupTimeout
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult, run_captured
from ci_pipeline.stages.sti.results import MAX_LOG_CHARS
from ci_pipeline.stages.sti.runner import NO_TESTS, judge
from ci_pipeline.stages.tmt.command import PLUGINS_DIR, run_command, tmt_program
from ci_pipeline.stages.tmt.metadata import TmtMetadata
from ci_pipeline.stages.tmt.results import TmtResultsError, plan_results
from ci_pipeline.stages.tools import Deadline

#: Exit statuses of ``tmt run`` that mean the tests ran (whatever they reported).
RAN = {0: "all tests passed", 1: "a test failed or warned", 2: "an error occurred", 3: "no results",
       4: "all tests were skipped"}
TMT_ERROR = "(tmt error)"
#: What ssh says when it refuses a machine whose host key is not the one recorded for it.
HOST_KEY_CHANGED = "has changed and you have requested strict checking"
ARTIFACTS_SUBDIR = "tmt"


@dataclass(frozen=True)
class TmtRun:
    """One ``tmt run``: its exit status and what it printed."""

    returncode: int
    output: str


def run_plans(
    ctx: StageContext,
    tree: Path,
    metadata: TmtMetadata,
    provision: Sequence[str],
    deadline: Deadline,
    environment: dict[str, str] | None = None,
) -> list[TestCaseResult]:
    """Run every plan of ``tree`` on the subject ``provision`` names (tmt given ``environment`` too);
    the results of each test, and an ERROR result for each plan tmt could not run."""
    workdir = ctx.workdir / "tmt-run"
    try:
        run = run_tmt(run_command(tmt_program(), tree, workdir, provision), ctx, deadline, environment)
        results: list[TestCaseResult] = []
        for plan in metadata.plans:
            execute_dir = workdir / plan.strip("/") / "execute"
            try:
                found = plan_results(plan, execute_dir)
            except TmtResultsError as exc:
                results.append(TestCaseResult(f"{plan} {TMT_ERROR}", "ERROR", log=str(exc)))
                continue
            results += found.tests
            if not found.complete or run.returncode not in RAN:
                # tmt stopped before the plan's tests ran, or failed as a program: its reason is the result.
                results.append(plan_error(plan, run, host_key_refusal(workdir / "log.txt")))
        return results
    finally:
        if workdir.is_dir():
            shutil.copytree(workdir, ctx.artifacts_dir / ARTIFACTS_SUBDIR, dirs_exist_ok=True, symlinks=True)


def run_tmt(
    argv: list[str], ctx: StageContext, deadline: Deadline, environment: dict[str, str] | None = None
) -> TmtRun:
    """Run tmt with ci-pipeline's plugins (and ``environment``); its output goes to the stage log too."""
    settings = {"TMT_PLUGINS": str(PLUGINS_DIR), "NO_COLOR": "1", "TMT_NO_COLOR": "1"}
    env = {**os.environ, **(environment or {}), **settings}
    timeout = deadline.remaining()
    try:
        returncode, text = run_captured(argv, ctx.log_path, cwd=ctx.workdir, env=env, timeout=timeout)
    except FileNotFoundError as exc:
        raise InfrastructureError(f"tmt ({argv[0]}) is not installed.") from exc
    except GroupTimeout as exc:
        raise StageFailure(f"tmt did not finish within {exc.timeout:g} s.") from exc
    return TmtRun(returncode, text)


def plan_error(plan: str, run: TmtRun, refusal: str = "") -> TestCaseResult:
    """An ERROR result standing for a plan tmt could not run to its tests, with tmt's reason and,
    last (the line a stage failure quotes), ssh's ``refusal`` of the machine."""
    reason = tmt_reason(run)
    if refusal:
        reason = f"{reason[: MAX_LOG_CHARS - len(refusal) - 1]}\n{refusal}"
    return TestCaseResult(name=f"{plan} {TMT_ERROR}", outcome="ERROR", log=reason)


def host_key_refusal(run_log: Path) -> str:
    """ssh's words, from tmt's run log, when it refused the machine for a changed host key (tmt
    itself only says it could not connect); "" when it did not."""
    try:
        text = run_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    said = [line.split("stderr:", 1)[-1].strip() for line in text.splitlines() if HOST_KEY_CHANGED in line]
    return f"ssh refused the machine, whose host key is not the one recorded: {said[-1]}" if said else ""


def tmt_reason(run: TmtRun) -> str:
    """What tmt said went wrong: its ``fail:`` lines and the causes it ends with, else its tail."""
    lines = [line.strip() for line in run.output.splitlines() if line.strip()]
    failures = [line.removeprefix("fail:").strip() for line in lines if line.startswith("fail:")]
    if not failures:
        causes = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line.startswith("Cause number")]
        failures = [cause for cause in causes if not cause.startswith("The exception was caused")]
    text = "\n".join(failures or lines[-5:]) or f"tmt exited with status {run.returncode}."
    return f"tmt could not run the plan: {text}"[:MAX_LOG_CHARS]


def judge_tmt(results: list[TestCaseResult]) -> StageResult:
    """The stage's outcome from tmt's results: a warning needs a person, otherwise as STI judges."""
    if all(test.outcome == "SKIPPED" for test in results):
        none = TestCaseResult(name=NO_TESTS, outcome="SKIPPED", log="The tmt plans ran no test.")
        return StageResult(summary=NO_TESTS, tests=[*results, none])
    warned = [test.name for test in results if test.outcome == "NEEDS_INSPECTION"]
    if warned and not any(test.outcome in ("FAILED", "ERROR") for test in results):
        names = ", ".join(warned)
        raise StageFailure(f"{len(warned)} of {len(results)} tests warned: {names}.", tests=results)
    return judge(results, [], "tmt")
