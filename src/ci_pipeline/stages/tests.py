"""The functional and integration test stages: Standard Test Interface playbooks on real subjects.

``run_functional`` runs the package's dist-git ``tests/tests*.yml`` with the tag ``classic`` in a
fresh root holding the new build (:func:`~ci_pipeline.stages.sti_subjects.functional_root`);
``run_integration`` runs the integration suite (:mod:`~ci_pipeline.stages.sti_suite`) with the tag
``atomic`` in a checkout of the compose's commit. Both keep ``$TEST_ARTIFACTS`` (``test.log``, one
log per test, ansible's output) and a JUnit ``results.xml`` as the stage's artifacts.

Outcomes: no playbook, or none with a test for the tag, is SUCCESS with the summary "no tests"; a
failing test is a StageFailure naming the failed tests; a playbook that cannot run (bad YAML, a role
missing, an unreachable subject, a task failing before the tests report) is a StageFailure that
says so, distinct from a failing test.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.branch_artifacts import BranchArtifacts, checked_checksum
from ci_pipeline.stages.build import validated_change
from ci_pipeline.stages.build_tools import Deadline
from ci_pipeline.stages.distgit import distgit_url, fetch_distgit
from ci_pipeline.stages.sti_playbooks import (
    EXIT_REASONS,
    PlaybookRun,
    ansible_environment,
    find_playbooks,
    required_packages,
    run_playbook,
    write_inventory,
)
from ci_pipeline.stages.sti_results import MAX_LOG_CHARS, collect_results, junit_xml, parse_test_log
from ci_pipeline.stages.sti_subjects import compose_root, container_root, functional_root, remove_tree
from ci_pipeline.stages.sti_suite import fetch_suite, suite_source

logger = get_logger(__name__)

NO_TESTS = "no tests"
FAILING = ("FAILED", "ERROR")


def run_functional(ctx: StageContext) -> StageResult:
    """Run the package's STI playbooks (tag ``classic``) against a root with the new build installed."""
    change = validated_change(ctx.fields)
    deadline = Deadline(ctx.timeout, ctx.stage)
    url = distgit_url(ctx.config.distgit.url, change.namespace, change.repo)
    checkout = fetch_distgit(url, change.rev, ctx.workdir / "distgit", ctx.log_path, deadline)
    playbooks = find_playbooks(checkout.path / "tests")
    if not playbooks:
        return no_tests(ctx, f"{change.repo} has no tests/tests*.yml at {change.rev[:7]}")
    root = ctx.workdir / "root"
    try:
        functional_root(ctx, root, required_packages(playbooks))
        result = run_suite(ctx, playbooks, root, "classic", f"{change.repo} functional", deadline)
    finally:
        remove_tree(root)
    subject = ctx.options.get("container_subject")
    if not subject:
        return result
    container = ctx.workdir / "container"
    try:
        container_root(ctx, subject, container, deadline)
        in_container = run_suite(
            ctx, playbooks, container, "container", f"{change.repo} container", deadline, "container"
        )
    finally:
        remove_tree(container)
    return StageResult(
        summary=f"{result.summary} {in_container.summary}", tests=[*result.tests, *in_container.tests]
    )


def run_integration(ctx: StageContext) -> StageResult:
    """Run the integration suite (tag ``atomic``) against a checkout of the compose's commit."""
    commit = checked_checksum(ctx.fields)
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    deadline = Deadline(ctx.timeout, ctx.stage)
    url, refs = suite_source(ctx.config.distgit.url, artifacts.branch, ctx.options, ctx.fields)
    suite_commit = fetch_suite(url, refs, ctx.workdir / "suite", ctx.log_path, deadline)
    logger.info("Integration suite %s at %s", url, suite_commit)
    playbooks = find_playbooks(ctx.workdir / "suite" / "tests")
    if not playbooks:
        return no_tests(ctx, f"the integration suite {url} has no tests/tests*.yml")
    root = ctx.workdir / "root"
    try:
        compose_root(ctx, artifacts.ostree_repo, commit, root)
        return run_suite(ctx, playbooks, root, "atomic", "compose integration", deadline)
    finally:
        remove_tree(root)


def no_tests(ctx: StageContext, why: str) -> StageResult:
    """SUCCESS with a visible SKIPPED "no tests" result."""
    skipped = (TestCaseResult(name=NO_TESTS, outcome="SKIPPED", log=why),)
    write_junit(ctx.artifacts_dir, "tests", skipped)
    return StageResult(summary=NO_TESTS, tests=skipped)


def run_suite(
    ctx: StageContext,
    playbooks: Sequence[Path],
    root: Path,
    tag: str,
    suite: str,
    deadline: Deadline,
    artifacts_subdir: str = "",
) -> StageResult:
    """Run each playbook against the subject ``root``; gather, keep and judge the results.

    The results are kept in the stage's artifacts, under ``artifacts_subdir`` when one is given.
    """
    test_artifacts = ctx.workdir / f"test-artifacts{'-' + tag if artifacts_subdir else ''}"
    test_artifacts.mkdir()
    tests_dir = playbooks[0].parent
    own_inventory = tests_dir / "inventory"
    if own_inventory.is_file():
        inventory = own_inventory
    else:
        inventory = write_inventory(ctx.workdir / "inventory.json", root)
    env = ansible_environment(str(root), test_artifacts, inventory, ctx.workdir / "ansible-home")
    results: list[TestCaseResult] = []
    broken: list[PlaybookRun] = []
    try:
        for playbook in playbooks:
            seen = len(results)
            run = run_playbook(playbook, tag, env, ctx.log_path, deadline.remaining())
            (test_artifacts / f"ansible-{playbook.stem}.log").write_text(run.output, encoding="utf-8")
            log_text = (
                (test_artifacts / "test.log").read_text(encoding="utf-8", errors="replace")
                if (test_artifacts / "test.log").is_file()
                else ""
            )
            results += collect_results(test_artifacts, parse_test_log(log_text)[seen:])
            reported_failure = any(t.outcome in FAILING for t in results[seen:])
            if run.returncode not in (0, 2) or (run.returncode == 2 and not reported_failure):
                broken.append(run)
                results.append(playbook_error(run))
    finally:
        write_junit(test_artifacts, suite, results)
        shutil.copytree(test_artifacts, ctx.artifacts_dir / artifacts_subdir, dirs_exist_ok=True)
    return judge(results, broken, tag)


def playbook_error(run: PlaybookRun) -> TestCaseResult:
    """An ERROR result standing for a playbook that could not run its tests."""
    name = f"{run.playbook.name} (playbook error)"
    return TestCaseResult(name=name, outcome="ERROR", log=run.output[-MAX_LOG_CHARS:])


def judge(results: list[TestCaseResult], broken: list[PlaybookRun], tag: str) -> StageResult:
    """The stage's outcome from its results; raises StageFailure for failed tests or broken playbooks."""
    failed = [t.name for t in results if t.outcome in FAILING and not t.name.endswith("(playbook error)")]
    also = f" Failed tests: {', '.join(failed)}." if failed else ""
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
        raise StageFailure(f"{len(failed)} of {len(results)} tests failed: {names}.", tests=results)
    ran = [t for t in results if t.outcome != "SKIPPED"]
    if not ran:
        skipped = TestCaseResult(name=NO_TESTS, outcome="SKIPPED", log=f"No test is tagged {tag}.")
        return StageResult(summary=NO_TESTS, tests=[*results, skipped])
    return StageResult(summary=f"{len(ran)} tests passed ({tag}).", tests=results)


def write_junit(directory: Path, suite: str, tests: Sequence[TestCaseResult]) -> None:
    """Write ``results.xml`` (JUnit) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.xml").write_bytes(junit_xml(suite, tests))
