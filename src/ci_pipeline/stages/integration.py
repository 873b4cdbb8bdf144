"""The integration test stage: the integration suite's STI playbooks against a booted compose.

The stage builds a scratch disk image of ``compose_rev`` in its own work directory (the image
stage's way, :mod:`~ci_pipeline.stages.qemu.bootdisk`; never published, not counted by the image
interval), gets one machine from its provisioner (``[provision.integration]``; by default qemu
boots it from that image, a lab member deploys the commit onto a leased host) and runs the suite
(:mod:`~ci_pipeline.stages.sti.suite`) with the tag ``atomic`` against that machine over SSH:
``TEST_SUBJECTS`` is the image, the inventory reaches the machine as the host's user with its key.
So tests can check services, networking and the init, as on a real Atomic Host. Results, artifacts
and outcomes are those of :mod:`~ci_pipeline.stages.sti.runner`; a qemu machine that does not
answer is a StageFailure with its console's tail (kept as ``subject.console.log``).
"""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.logcontext import get_logger
from ci_pipeline.provision.leasing import provisioned_hosts, stage_deployment
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.fields import checked_checksum
from ci_pipeline.stages.ostree.treefile import DEFAULT_OSNAME, run_treefile
from ci_pipeline.stages.qemu import bootdisk
from ci_pipeline.stages.sti.playbooks import prepare_playbooks, ssh_subject
from ci_pipeline.stages.sti.runner import no_tests, run_suite
from ci_pipeline.stages.sti.suite import fetch_suite, suite_source
from ci_pipeline.stages.tools import Deadline

logger = get_logger(__name__)

DEFAULT_TIMEOUT = 1800.0
SUBJECT = "subject"


def run_integration(ctx: StageContext) -> StageResult:
    """Run the integration suite (tag ``atomic``) against a machine booted from the compose's commit."""
    commit = checked_checksum(ctx.fields)
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    deadline = Deadline(timeout, ctx.stage)
    url, refs = suite_source(ctx.config.distgit.url, artifacts.branch, ctx.options, ctx.fields)
    suite_commit = fetch_suite(url, refs, ctx.workdir / "suite", ctx.log_path, deadline)
    logger.info("Integration suite %s at %s", url, suite_commit)
    playbooks = prepare_playbooks(ctx.workdir / "suite" / "tests", ctx.log_path)
    if not playbooks:
        return no_tests(ctx, f"the integration suite {url} has no tests/tests*.yml")
    image = scratch_image(ctx, artifacts, commit)
    with provisioned_hosts(
        ctx, stage_deployment(ctx, image, commit, artifacts.compose_url, [SUBJECT])
    ) as hosts:
        subject = ssh_subject(image, hosts[0].ssh)
        return run_suite(ctx, playbooks, subject, "atomic", "compose integration", deadline)


def scratch_image(ctx: StageContext, artifacts: BranchArtifacts, commit: str) -> Path:
    """A disk image of ``commit`` in the work directory, for this stage only."""
    osname = run_treefile(ctx).osname if ctx.config.trigger.treefile else None
    image = ctx.workdir / "scratch.qcow2"
    scratch = ctx.workdir / "scratch"
    scratch.mkdir()
    bootdisk.build_disk(artifacts.ostree_repo, commit, osname or DEFAULT_OSNAME, image, scratch, ctx.log_path)
    return image
