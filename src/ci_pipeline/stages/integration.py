"""The integration test stage: the integration suite's STI playbooks and tmt plans against a booted compose.

The stage builds a scratch disk image of ``compose_rev`` in its own work directory (the image
stage's way, :mod:`~ci_pipeline.stages.qemu.bootdisk`; never published, not counted by the image
interval), gets one machine from its provisioner (``[provision.integration]``; by default qemu
boots it from that image, a lab member deploys the commit onto a leased host) and runs the suite
(:mod:`~ci_pipeline.stages.sti.suite`) with the tag ``atomic`` against that machine over SSH:
``TEST_SUBJECTS`` is the image, the inventory reaches the machine as the host's user with its key.
The suite's tmt plans (a checkout with ``.fmf/version``) run on the same machine with tmt's
``provision how=connect`` (:mod:`~ci_pipeline.stages.tmt.on_machine`); a suite with both runs both.
So tests can check services, networking and the init, as on a real Atomic Host. Results, artifacts
and outcomes are those of :mod:`~ci_pipeline.stages.sti.runner`; a qemu machine that does not
answer is a StageFailure with its console's tail (kept as ``subject.console.log``).
"""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.provision.leasing import provisioned_hosts, stage_deployment
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.fields import checked_checksum
from ci_pipeline.stages.ostree.treefile import DEFAULT_OSNAME, run_treefile
from ci_pipeline.stages.qemu import bootdisk
from ci_pipeline.stages.sti.outcomes import combine, outcome_of
from ci_pipeline.stages.sti.playbooks import prepare_playbooks, ssh_subject
from ci_pipeline.stages.sti.runner import no_tests, run_suite
from ci_pipeline.stages.sti.suite import fetch_suite, suite_source
from ci_pipeline.stages.tmt.metadata import checkout_plans
from ci_pipeline.stages.tmt.on_machine import run_plans_on_machine
from ci_pipeline.stages.tools import Deadline

logger = get_logger(__name__)

DEFAULT_TIMEOUT = 1800.0
SUBJECT = "subject"
SUITE = "compose integration"


def run_integration(ctx: StageContext) -> StageResult:
    """Run the integration suite (tag ``atomic``) against a machine booted from the compose's commit."""
    commit = checked_checksum(ctx.fields)
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    deadline = Deadline(timeout, ctx.stage)
    url, refs = suite_source(ctx.config.distgit.url, artifacts.branch, ctx.options, ctx.fields)
    suite_commit = fetch_suite(url, refs, ctx.workdir / "suite", ctx.log_path, deadline)
    logger.info("Integration suite %s at %s", url, suite_commit)
    suite = ctx.workdir / "suite"
    playbooks = prepare_playbooks(suite / "tests", ctx.log_path)
    tmt = checkout_plans(suite)
    if not playbooks and not tmt.plans:
        return no_tests(ctx, f"the integration suite {url} has no tests/tests*.yml and no tmt plans")
    image = scratch_image(ctx, artifacts, commit)
    with provisioned_hosts(
        ctx, stage_deployment(ctx, image, commit, artifacts.compose_url, [SUBJECT])
    ) as hosts:
        outcomes: list[StageResult | StageFailure] = []
        if playbooks:
            subject = ssh_subject(image, hosts[0].ssh)
            outcomes.append(outcome_of(run_suite, ctx, playbooks, subject, "atomic", SUITE, deadline))
        if tmt.plans:
            outcomes.append(outcome_of(run_plans_on_machine, ctx, suite, tmt, hosts[0].ssh, deadline))
        return combine(ctx, SUITE, outcomes)


def scratch_image(ctx: StageContext, artifacts: BranchArtifacts, commit: str) -> Path:
    """A disk image of ``commit`` in the work directory, for this stage only."""
    osname = run_treefile(ctx).osname if ctx.config.trigger.treefile else None
    image = ctx.workdir / "scratch.qcow2"
    scratch = ctx.workdir / "scratch"
    scratch.mkdir()
    bootdisk.build_disk(artifacts.ostree_repo, commit, osname or DEFAULT_OSNAME, image, scratch, ctx.log_path)
    return image
