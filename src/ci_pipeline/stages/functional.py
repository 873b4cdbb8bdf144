"""The functional test stage: the package's STI playbooks against a fresh root holding the new build.

The package's dist-git ``tests/tests*.yml`` run with the tag ``classic`` in a root that holds this
run's build (:func:`~ci_pipeline.stages.sti.subjects.functional_root`) and, when the run option
``container_subject`` names a container's root filesystem, once more with the tag ``container`` in
it. When a playbook uses ``standard-test-source``, the lookaside sources are fetched into the
checkout first, as the build does. Results, artifacts and outcomes are those of
:mod:`~ci_pipeline.stages.sti.runner`.
"""

from __future__ import annotations

from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.fields import validated_change
from ci_pipeline.stages.git.distgit import distgit_url, fetch_distgit
from ci_pipeline.stages.git.lookaside import fetch_sources
from ci_pipeline.stages.sti.playbooks import chroot_subject, prepare_playbooks, required_packages, uses_role
from ci_pipeline.stages.sti.runner import no_tests, run_suite
from ci_pipeline.stages.sti.subjects import container_root, functional_root, remove_tree
from ci_pipeline.stages.tools import Deadline


def run_functional(ctx: StageContext) -> StageResult:
    """Run the package's STI playbooks (tag ``classic``) against a root with the new build installed."""
    change = validated_change(ctx.fields)
    deadline = Deadline(ctx.timeout, ctx.stage)
    url = distgit_url(ctx.config.distgit.url, change.namespace, change.repo)
    checkout = fetch_distgit(url, change.rev, ctx.workdir / "distgit", ctx.log_path, deadline)
    playbooks = prepare_playbooks(checkout.path / "tests", ctx.log_path)
    if not playbooks:
        return no_tests(ctx, f"{change.repo} has no tests/tests*.yml at {change.rev[:7]}")
    if uses_role(playbooks, "standard-test-source"):
        # The role unpacks the package's sources: they come from the lookaside cache, as for a build.
        fetch_sources(ctx.config.lookaside.url, change.namespace, change.repo, checkout.path)
    root = ctx.workdir / "root"
    try:
        functional_root(ctx, root, required_packages(playbooks))
        tree = chroot_subject(root)
        result = run_suite(ctx, playbooks, tree, "classic", f"{change.repo} functional", deadline)
    finally:
        remove_tree(root)
    subject = ctx.options.get("container_subject")
    if not subject:
        return result
    container = ctx.workdir / "container"
    try:
        container_root(ctx, subject, container, deadline)
        in_container = run_suite(
            ctx,
            playbooks,
            chroot_subject(container),
            "container",
            f"{change.repo} container",
            deadline,
            "container",
        )
    finally:
        remove_tree(container)
    return StageResult(
        summary=f"{result.summary} {in_container.summary}", tests=[*result.tests, *in_container.tests]
    )
