"""Running a suite of STI playbooks against one subject tree, and judging what they report.

The functional and integration stages both end here (:func:`run_suite`): each playbook runs with
the stage's tag against the subject, ``$TEST_ARTIFACTS`` (``results.yml``, ``test.log``, one log
per test, ansible's output) and a JUnit ``results.xml`` are kept as the stage's artifacts, and
:func:`judge` turns the results into the stage's outcome. What a playbook reports is read from its
``results.yml`` when it wrote one, else from ``test.log`` (:class:`Reported`).

Outcomes: no playbook, or none with a test for the tag, is SUCCESS with the summary "no tests"; a
failing test is a StageFailure naming the failed tests; a test in ERROR (its framework missing on
the subject, say) is a StageFailure naming it with its reason, told apart from a failing test; a
playbook that cannot run (bad YAML, a role missing, an unreachable subject, a task failing before
the tests report) is a StageFailure that says so, distinct from a failing test.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.sti.playbooks import (
    EXIT_REASONS,
    PlaybookRun,
    Subject,
    ansible_environment,
    run_playbook,
    write_inventory,
)
from ci_pipeline.stages.sti.results import (
    MAX_LOG_CHARS,
    RESULTS_YML,
    ResultsFileError,
    collect_results,
    parse_results_yml,
    parse_test_log,
    write_junit,
)
from ci_pipeline.stages.tools import Deadline

NO_TESTS = "no tests"
FAILING = ("FAILED", "ERROR")


def no_tests(ctx: StageContext, why: str) -> StageResult:
    """SUCCESS with a visible SKIPPED "no tests" result."""
    skipped = (TestCaseResult(name=NO_TESTS, outcome="SKIPPED", log=why),)
    write_junit(ctx.artifacts_dir, "tests", skipped)
    return StageResult(summary=NO_TESTS, tests=skipped)


def run_suite(
    ctx: StageContext,
    playbooks: Sequence[Path],
    subject: Subject,
    tag: str,
    suite: str,
    deadline: Deadline,
    artifacts_subdir: str = "",
) -> StageResult:
    """Run each playbook against ``subject``; gather, keep and judge the results.

    The results are kept in the stage's artifacts, under ``artifacts_subdir`` when one is given.
    """
    test_artifacts = ctx.workdir / f"test-artifacts{'-' + tag if artifacts_subdir else ''}"
    test_artifacts.mkdir()
    tests_dir = playbooks[0].parent
    own_inventory = tests_dir / "inventory"
    if own_inventory.is_file():
        inventory = own_inventory
    else:
        inventory = write_inventory(ctx.workdir / "inventory.json", subject)
    env = ansible_environment(subject.test_subjects, test_artifacts, inventory, ctx.workdir / "ansible-home")
    results: list[TestCaseResult] = []
    broken: list[PlaybookRun] = []
    reported = Reported(test_artifacts)
    try:
        for playbook in playbooks:
            seen = len(results)
            run = run_playbook(playbook, tag, env, ctx.log_path, deadline.remaining())
            (test_artifacts / f"ansible-{playbook.stem}.log").write_text(run.output, encoding="utf-8")
            results += reported.new_results()
            reported_failure = any(t.outcome in FAILING for t in results[seen:])
            if run.returncode not in (0, 2) or (run.returncode == 2 and not reported_failure):
                broken.append(run)
                results.append(playbook_error(run))
    finally:
        write_junit(test_artifacts, suite, results)
        shutil.copytree(test_artifacts, ctx.artifacts_dir / artifacts_subdir, dirs_exist_ok=True)
    return judge(results, broken, tag)


class Reported:
    """What the playbooks have reported so far in ``$TEST_ARTIFACTS``: results.yml first, else test.log."""

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.seen_yml = 0
        self.seen_log = 0

    def _read(self, name: str) -> str:
        path = self.artifacts / name
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    def new_results(self) -> list[TestCaseResult]:
        """The results reported since the last call (an ERROR result for an unreadable results.yml)."""
        lines = parse_test_log(self._read("test.log"))
        new_lines, self.seen_log = lines[self.seen_log :], len(lines)
        try:
            entries = parse_results_yml(self._read(RESULTS_YML))
        except ResultsFileError as exc:
            return [*collect_results(self.artifacts, new_lines), unreadable_results(str(exc))]
        new_entries, self.seen_yml = entries[self.seen_yml :], len(entries)
        if not new_entries:
            return collect_results(self.artifacts, new_lines)
        logs = {name: files for name, _, files in new_entries}
        return collect_results(self.artifacts, [(name, outcome) for name, outcome, _ in new_entries], logs)


def unreadable_results(why: str) -> TestCaseResult:
    """An ERROR result standing for a results.yml that could not be read."""
    return TestCaseResult(name=f"{RESULTS_YML} (unreadable)", outcome="ERROR", log=why)


def playbook_error(run: PlaybookRun) -> TestCaseResult:
    """An ERROR result standing for a playbook that could not run its tests."""
    name = f"{run.playbook.name} (playbook error)"
    return TestCaseResult(name=name, outcome="ERROR", log=run.output[-MAX_LOG_CHARS:])


def judge(results: list[TestCaseResult], broken: list[PlaybookRun], tag: str) -> StageResult:
    """The stage's outcome from its results; raises StageFailure for failed tests or broken playbooks."""
    failed = [t.name for t in results if t.outcome == "FAILED"]
    errors = [t for t in results if t.outcome == "ERROR" and not t.name.endswith("(playbook error)")]
    also = f" Failed tests: {', '.join(failed)}." if failed else ""
    if errors:
        also += f" Tests that could not run: {_error_list(errors)}."
    if broken:
        details = "\n".join(
            f"{run.playbook.name}: {EXIT_REASONS.get(run.returncode, f'exit status {run.returncode}')} "
            f"(exit status {run.returncode}).\n{run.error_summary()}"
            for run in broken
        )
        raise StageFailure(
            "The test playbook could not run: an error in the playbook or the test subject, "
            f"not a failing test.{also}\n{details}",
            tests=results,
        )
    if failed:
        names = ", ".join(failed)
        more = f" {len(errors)} could not run: {_error_list(errors)}." if errors else ""
        raise StageFailure(f"{len(failed)} of {len(results)} tests failed: {names}.{more}", tests=results)
    if errors:
        raise StageFailure(
            f"{len(errors)} of {len(results)} tests could not run (an error, not a failing test): "
            f"{_error_list(errors)}.",
            tests=results,
        )
    ran = [t for t in results if t.outcome != "SKIPPED"]
    if not ran:
        skipped = TestCaseResult(name=NO_TESTS, outcome="SKIPPED", log=f"No test is tagged {tag}.")
        return StageResult(summary=NO_TESTS, tests=[*results, skipped])
    return StageResult(summary=f"{len(ran)} tests passed ({tag}).", tests=results)


def _error_list(errors: Sequence[TestCaseResult]) -> str:
    """Each test in error with the reason its log gives (its last line, cut short)."""
    described = []
    for test in errors:
        lines = [line.strip() for line in test.log.splitlines() if line.strip() and not line.startswith("#")]
        described.append(f"{test.name} ({lines[-1][:200].rstrip('.')})" if lines else test.name)
    return "; ".join(described)
