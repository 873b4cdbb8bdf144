"""The integration test stage: the integration suite's STI playbooks against the compose's commit.

The suite (:mod:`~ci_pipeline.stages.sti.suite`) runs with the tag ``atomic`` in a checkout of
``compose_rev`` made to look deployed (:func:`~ci_pipeline.stages.sti.subjects.compose_root`).
Results, artifacts and outcomes are those of :mod:`~ci_pipeline.stages.sti.runner`.
"""

from __future__ import annotations

from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.fields import checked_checksum
from ci_pipeline.stages.sti.playbooks import prepare_playbooks
from ci_pipeline.stages.sti.runner import no_tests, run_suite
from ci_pipeline.stages.sti.subjects import compose_root, remove_tree
from ci_pipeline.stages.sti.suite import fetch_suite, suite_source
from ci_pipeline.stages.tools import Deadline

logger = get_logger(__name__)


def run_integration(ctx: StageContext) -> StageResult:
    """Run the integration suite (tag ``atomic``) against a checkout of the compose's commit."""
    commit = checked_checksum(ctx.fields)
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    deadline = Deadline(ctx.timeout, ctx.stage)
    url, refs = suite_source(ctx.config.distgit.url, artifacts.branch, ctx.options, ctx.fields)
    suite_commit = fetch_suite(url, refs, ctx.workdir / "suite", ctx.log_path, deadline)
    logger.info("Integration suite %s at %s", url, suite_commit)
    playbooks = prepare_playbooks(ctx.workdir / "suite" / "tests", ctx.log_path)
    if not playbooks:
        return no_tests(ctx, f"the integration suite {url} has no tests/tests*.yml")
    root = ctx.workdir / "root"
    try:
        compose_root(ctx, artifacts.ostree_repo, commit, root)
        return run_suite(ctx, playbooks, root, "atomic", "compose integration", deadline)
    finally:
        remove_tree(root)
