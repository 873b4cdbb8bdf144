"""The e2e stage: boot a small cluster from the new image, install it over SSH, run a conformance suite.

The suite comes from the integration test repository, at the same URL and ref as the integration
suite (:mod:`~ci_pipeline.stages.sti.suite`). The stage gets its machines from its provisioner
(``[provision.e2e]``: by default qemu boots ``count`` machines, 3, named ``node1``... on a private LAN
from the run's image; the run option ``e2e_machines`` overrides the count), runs the installer
playbook (``[e2e] installer``, a path in the repository) with ansible-playbook over SSH against all
of them (inventory group ``nodes``; each host has ``lan_address``, its private address), then runs
the conformance command (``[e2e] conformance``, a shell command run on this host in the repository)
with:

    E2E_JUNIT          where it writes its JUnit XML report
    E2E_MACHINES_FILE  one line per machine: name, SSH port, private address, SSH address
    E2E_SSH            a shell command line that logs in as the hosts' user, with the SSH client's
                       host key checks (``eval "$E2E_SSH -p PORT ADDRESS COMMAND"``)
    E2E_INVENTORY      the installer's inventory
    E2E_COMPOSE_REV, E2E_IMAGE, E2E_NVR (for a package build)

Each ``<testcase>`` of the report is one result. Outcomes: every case passing is SUCCESS; a failing
case is a StageFailure naming the cases; a machine that does not answer, an installer that fails or a
conformance command that writes no report is a StageFailure saying so; a repository without the
installer is SUCCESS with the summary "no e2e tests". Artifacts: ``node<N>.console.log`` (qemu),
``installer.log`` and ``results.xml``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.machines.ssh import login_command
from ci_pipeline.provision.base import Host
from ci_pipeline.provision.leasing import provisioned_hosts, stage_deployment
from ci_pipeline.provision.settings import topology_for
from ci_pipeline.stages import base
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.fields import checked_checksum
from ci_pipeline.stages.qemu.bootdisk import run_image
from ci_pipeline.stages.sti.playbooks import (
    ansible_environment,
    ansible_playbook_program,
    ssh_subject,
    write_group_inventory,
)
from ci_pipeline.stages.sti.results import JUnitError, parse_junit, write_junit
from ci_pipeline.stages.sti.suite import fetch_suite, suite_source
from ci_pipeline.stages.tools import Deadline

logger = get_logger(__name__)

DEFAULT_TIMEOUT = 900.0
NO_E2E_TESTS = "no e2e tests"
SUITE_NAME = "e2e"
GROUP = "nodes"


def run(ctx: StageContext) -> StageResult:
    """Install machines booted from the run's image, run the conformance suite; see the module docstring."""
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    rev = checked_checksum(ctx.fields)
    image = run_image(artifacts, ctx.fields)
    count = topology_for(ctx.config, ctx.stage, ctx.options).count
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    deadline = Deadline(timeout, ctx.stage)
    if not (ctx.config.distgit.url or _suite_option(ctx)):
        return no_e2e_tests(
            ctx, "No integration test suite is configured (distgit.url or integration_tests_url)."
        )
    url, refs = suite_source(ctx.config.distgit.url, artifacts.branch, ctx.options, ctx.fields)
    suite = ctx.workdir / "suite"
    suite_commit = fetch_suite(url, refs, suite, ctx.log_path, deadline)
    installer = suite_file(suite, ctx.config.e2e.installer)
    if not installer.is_file():
        return no_e2e_tests(ctx, f"The suite {url} at {suite_commit[:7]} has no {ctx.config.e2e.installer}.")
    names = [f"node{index}" for index in range(1, count + 1)]
    started = time.monotonic()
    with provisioned_hosts(ctx, stage_deployment(ctx, image, rev, artifacts.compose_url, names)) as hosts:
        inventory = write_inventory(ctx.workdir / "inventory.json", image, hosts)
        install(ctx, installer, image, inventory, deadline)
        settings = {"E2E_COMPOSE_REV": rev, "E2E_IMAGE": image.name, "E2E_NVR": ctx.fields.get("nvr", "")}
        results = conformance(ctx, suite, hosts, inventory, settings, deadline)
    write_junit(ctx.artifacts_dir, SUITE_NAME, results)
    return judge_tests(results, count, time.monotonic() - started)


def suite_file(suite: Path, relative: str) -> Path:
    """``relative`` inside the suite checkout; StageFailure for a path that leaves it."""
    path = (suite / relative).resolve()
    if not relative or not path.is_relative_to(suite.resolve()):
        raise StageFailure(f"The e2e path {relative!r} is not inside the test repository.")
    return path


def write_inventory(path: Path, image: Path, hosts: Sequence[Host]) -> Path:
    """The installer's inventory: every host in group ``nodes``, its private address as ``lan_address``."""
    entries = {}
    for host in hosts:
        subject = ssh_subject(image, host.ssh)
        entries[host.name] = {**subject.host_vars, "lan_address": host.private_address}
    return write_group_inventory(path, GROUP, entries)


def install(ctx: StageContext, installer: Path, image: Path, inventory: Path, deadline: Deadline) -> None:
    """Run the installer playbook against every machine; StageFailure with its log's tail when it fails."""
    env = ansible_environment(str(image), ctx.workdir / "installer", inventory, ctx.workdir / "ansible-home")
    log = ctx.artifacts_dir / "installer.log"
    try:
        base.run_tool(
            [ansible_playbook_program(), installer.name],
            log,
            cwd=installer.parent,
            env=env,
            timeout=deadline.remaining(),
            failure=f"The e2e installer {installer.name}",
        )
    except StageFailure as exc:
        raise StageFailure(f"The e2e installer failed, so no conformance test ran. {exc}") from exc


def conformance(
    ctx: StageContext,
    suite: Path,
    hosts: Sequence[Host],
    inventory: Path,
    settings: Mapping[str, str],
    deadline: Deadline,
) -> list[TestCaseResult]:
    """Run the conformance command and read its JUnit report."""
    junit = ctx.workdir / "conformance.xml"
    listing = ctx.workdir / "machines.txt"
    listing.write_text(
        "".join(f"{h.name} {h.port} {h.private_address or '-'} {h.address}\n" for h in hosts),
        encoding="utf-8",
    )
    env = {
        **ansible_environment(
            settings["E2E_IMAGE"], ctx.workdir / "conformance", inventory, ctx.workdir / "ansible-home"
        ),
        **{name: value for name, value in settings.items() if value},
        "E2E_JUNIT": str(junit),
        "E2E_MACHINES_FILE": str(listing),
        "E2E_SSH": login_command(hosts[0].ssh),
        "E2E_INVENTORY": str(inventory),
    }
    try:
        base.run_tool(
            ["sh", "-c", ctx.config.e2e.conformance],
            ctx.log_path,
            cwd=suite,
            env=env,
            timeout=deadline.remaining(),
            failure="The conformance command",
        )
    except StageFailure:
        if not junit.is_file():
            raise
    if not junit.is_file():
        raise StageFailure(f"The conformance command wrote no JUnit report to {junit.name}.")
    try:
        results = parse_junit(junit.read_bytes())
    except JUnitError as exc:
        raise StageFailure(f"The conformance report cannot be read: {exc}") from exc
    if not results:
        raise StageFailure("The conformance report has no test case.")
    return results


def no_e2e_tests(ctx: StageContext, why: str) -> StageResult:
    """SUCCESS with a visible SKIPPED "no e2e tests" result."""
    skipped = (TestCaseResult(name=NO_E2E_TESTS, outcome="SKIPPED", log=why),)
    write_junit(ctx.artifacts_dir, SUITE_NAME, skipped)
    return StageResult(summary=NO_E2E_TESTS, tests=skipped)


def judge_tests(results: Sequence[TestCaseResult], count: int, elapsed: float) -> StageResult:
    """SUCCESS when every result passed (or was skipped), else StageFailure naming the failed tests."""
    failed = [result for result in results if result.outcome in ("FAILED", "ERROR")]
    if failed:
        names = ", ".join(result.name for result in failed)
        raise StageFailure(
            f"{len(failed)} of {len(results)} e2e tests failed: {names}.\n{failed[0].name}:\n{failed[0].log}",
            tests=results,
        )
    summary = f"{len(results)} e2e tests passed on {count} machines ({elapsed:.0f} s)."
    return StageResult(summary=summary, tests=results)


def _suite_option(ctx: StageContext) -> str:
    return ctx.options.get("integration_tests_url") or ctx.fields.get("integration_tests_url") or ""
