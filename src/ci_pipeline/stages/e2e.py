"""The e2e stage: boot a small cluster of machines from the new image and run the e2e suite on them.

The suite is the ``e2e/`` folder of the integration test repository, at the same URL and ref as the
integration suite (:mod:`~ci_pipeline.stages.sti.suite`); its tests are described in
:mod:`~ci_pipeline.stages.qemu.e2e_suite`. The stage packs it into an ext4 disk, boots ``e2e_machines``
machines (run option, default 2) from the image on a private LAN (:mod:`~ci_pipeline.stages.qemu.machines`)
and reads what each machine's init printed (:mod:`~ci_pipeline.stages.qemu.console`). Tests see
``E2E_MACHINE``, ``E2E_ADDRESS``, ``E2E_PEERS`` (the other machines' addresses), ``E2E_MACHINES``,
``E2E_COMPOSE_REV``, ``E2E_IMAGE`` and, when the run has one, ``E2E_NVR``.

Outcomes: every test passing on every machine is SUCCESS; a failing test is a StageFailure naming the
tests and machines; a machine that does not boot, or does not finish the suite within the stage's
timeout (default 300 s), is a StageFailure with its console's tail; no suite or no ``e2e/`` tests is
SUCCESS with the summary "no e2e tests". Artifacts: ``machine<N>.console.log`` and ``results.xml``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.logtail import log_tail
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.fields import checked_checksum
from ci_pipeline.stages.qemu.boot import kvm_usable
from ci_pipeline.stages.qemu.bootdisk import run_image
from ci_pipeline.stages.qemu.console import E2EReport, console_tail, parse_e2e_console
from ci_pipeline.stages.qemu.e2e_suite import SUITE_DIR, find_tests, pack_suite
from ci_pipeline.stages.qemu.machines import (
    MAX_MACHINES,
    Machine,
    machine_command,
    plan_machines,
    private_lan,
    run_machines,
)
from ci_pipeline.stages.sti.results import write_junit
from ci_pipeline.stages.sti.suite import fetch_suite, suite_source
from ci_pipeline.stages.tools import Deadline

logger = get_logger(__name__)

DEFAULT_TIMEOUT = 300.0
DEFAULT_MACHINES = 2
NO_E2E_TESTS = "no e2e tests"
SUITE_NAME = "e2e"


def run(ctx: StageContext) -> StageResult:
    """Run the e2e suite on machines booted from the run's image; see the module docstring."""
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    rev = checked_checksum(ctx.fields)
    image = run_image(artifacts, ctx.fields)
    count = machine_count(ctx.options)
    deadline = Deadline(ctx.timeout or DEFAULT_TIMEOUT, ctx.stage)
    if not (ctx.config.distgit.url or _suite_option(ctx)):
        return no_e2e_tests(
            ctx, "No integration test suite is configured (distgit.url or integration_tests_url)."
        )
    url, refs = suite_source(ctx.config.distgit.url, artifacts.branch, ctx.options, ctx.fields)
    suite_commit = fetch_suite(url, refs, ctx.workdir / "suite", ctx.log_path, deadline)
    suite = ctx.workdir / "suite" / SUITE_DIR
    tests = find_tests(suite)
    if not tests:
        return no_e2e_tests(
            ctx, f"The suite {url} at {suite_commit[:7]} has no executable {SUITE_DIR}/ tests."
        )
    settings = {"E2E_COMPOSE_REV": rev, "E2E_IMAGE": image.name, "E2E_MACHINES": str(count)}
    if ctx.fields.get("nvr"):
        settings["E2E_NVR"] = ctx.fields["nvr"]
    disk = pack_suite(suite, settings, ctx.workdir, ctx.log_path)
    accel = ctx.options.get("e2e_accel") or ("kvm" if kvm_usable(ctx.log_path) else "tcg")
    ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
    machines = plan_machines(count, ctx.artifacts_dir)
    lan = private_lan()
    commands = {m.name: machine_command(image, disk, m, machines, lan, accel) for m in machines}
    timeout = deadline.remaining() or DEFAULT_TIMEOUT
    started = time.monotonic()
    statuses = run_machines(commands, ctx.log_path, timeout)
    elapsed = time.monotonic() - started
    logger.info("%d machines ran the e2e suite in %.1f s (%s)", count, elapsed, accel)
    reports = {m.name: _read_report(m) for m in machines}
    results = collect_results(machines, reports, tests)
    write_junit(ctx.artifacts_dir, SUITE_NAME, results)
    judge_machines(ctx, machines, statuses, reports, timeout)
    return judge_tests(results, count, accel, elapsed)


def machine_count(options: Mapping[str, str]) -> int:
    """The ``e2e_machines`` option (default 2), refused unless it is a whole number 1-16."""
    value = options.get("e2e_machines") or str(DEFAULT_MACHINES)
    if not value.isdigit() or not 1 <= int(value) <= MAX_MACHINES:
        raise StageFailure(
            f"The e2e_machines option {value!r} is not a number of machines from 1 to {MAX_MACHINES}."
        )
    return int(value)


def no_e2e_tests(ctx: StageContext, why: str) -> StageResult:
    """SUCCESS with a visible SKIPPED "no e2e tests" result."""
    skipped = (TestCaseResult(name=NO_E2E_TESTS, outcome="SKIPPED", log=why),)
    write_junit(ctx.artifacts_dir, SUITE_NAME, skipped)
    return StageResult(summary=NO_E2E_TESTS, tests=skipped)


def collect_results(
    machines: Sequence[Machine], reports: Mapping[str, E2EReport], tests: Sequence[str]
) -> list[TestCaseResult]:
    """One result per machine and test (``<machine>/<test>``); a test a machine never reported is an ERROR."""
    results = []
    for machine in machines:
        seen = {test.name: test for test in reports[machine.name].tests}
        for name in tests:
            test = seen.get(name)
            if test is None:
                log = f"{machine.name} did not report a result for {name}."
                results.append(TestCaseResult(name=f"{machine.name}/{name}", outcome="ERROR", log=log))
            else:
                results.append(
                    TestCaseResult(name=f"{machine.name}/{name}", outcome=test.outcome, log=test.output)
                )
    return results


def judge_machines(
    ctx: StageContext,
    machines: Sequence[Machine],
    statuses: Mapping[str, int | None],
    reports: Mapping[str, E2EReport],
    timeout: float,
) -> None:
    """StageFailure, with the console's tail, for the first machine that did not boot or finish the suite."""
    for machine in machines:
        report = reports[machine.name]
        if statuses[machine.name] is None:
            problem = f"did not finish the e2e suite within {timeout:.0f} s"
        elif not report.boot.booted:
            problem = f"did not boot (qemu exit status {statuses[machine.name]})"
        elif not report.done:
            problem = "powered off before finishing the e2e suite"
        else:
            continue
        errors = "".join(f" {error}." for error in report.errors)
        tail = console_tail(machine.console) or log_tail(ctx.log_path)
        raise StageFailure(f"{machine.name} {problem}.{errors}\n{tail}")


def judge_tests(results: Sequence[TestCaseResult], count: int, accel: str, elapsed: float) -> StageResult:
    """SUCCESS when every result passed, else StageFailure naming the failed tests."""
    failed = [result for result in results if result.outcome != "PASSED"]
    if failed:
        names = ", ".join(result.name for result in failed)
        raise StageFailure(
            f"{len(failed)} of {len(results)} e2e tests failed: {names}.\n{failed[0].name}:\n{failed[0].log}",
            tests=results,
        )
    summary = f"{len(results)} e2e tests passed on {count} machines ({accel}, {elapsed:.0f} s)."
    return StageResult(summary=summary, tests=results)


def _read_report(machine: Machine) -> E2EReport:
    text = machine.console.read_text(encoding="utf-8", errors="replace") if machine.console.is_file() else ""
    return parse_e2e_console(text)


def _suite_option(ctx: StageContext) -> str:
    return ctx.options.get("integration_tests_url") or ctx.fields.get("integration_tests_url") or ""
