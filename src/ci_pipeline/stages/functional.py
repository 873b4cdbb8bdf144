"""The functional test stage: the package's STI playbooks and tmt plans against a fresh root holding
the new build.

The package's dist-git ``tests/tests*.yml`` run with the tag ``classic``, and its tmt plans (a
checkout with ``.fmf/version``) with ``tmt run`` (:mod:`~ci_pipeline.stages.tmt.runner`, in the same
sandbox), in one root that holds this run's build and what both need
(:func:`~ci_pipeline.stages.sti.subjects.functional_root`); a repository with both runs both. When
the run option ``container_subject`` names a container's root filesystem, the playbooks run once
more with the tag ``container`` in it. When a playbook uses ``standard-test-source``, the lookaside
sources are fetched into the checkout first, as the build does. Results, artifacts and outcomes are
those of :mod:`~ci_pipeline.stages.sti.runner` and :mod:`~ci_pipeline.stages.tmt.runner`.
"""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.fields import validated_change
from ci_pipeline.stages.git.distgit import distgit_url, fetch_distgit
from ci_pipeline.stages.git.lookaside import fetch_sources
from ci_pipeline.stages.sti.outcomes import combine, outcome_of
from ci_pipeline.stages.sti.playbooks import chroot_subject, prepare_playbooks, required_packages, uses_role
from ci_pipeline.stages.sti.runner import no_tests, run_suite
from ci_pipeline.stages.sti.subjects import container_root, functional_root, remove_tree
from ci_pipeline.stages.tmt.command import sandbox_provision
from ci_pipeline.stages.tmt.metadata import TmtMetadata, checkout_plans
from ci_pipeline.stages.tmt.runner import TMT_ERROR, judge_tmt, run_plans
from ci_pipeline.stages.tools import Deadline

#: What tmt itself needs in a subject tree: its scripts are bash, its executor locks with flock.
TMT_SUBJECT_NEEDS = ("/bin/bash", "/usr/bin/flock")


def run_functional(ctx: StageContext) -> StageResult:
    """Run the package's STI playbooks (tag ``classic``) and tmt plans against a root with the new build."""
    change = validated_change(ctx.fields)
    deadline = Deadline(ctx.timeout, ctx.stage)
    url = distgit_url(ctx.config.distgit.url, change.namespace, change.repo)
    checkout = fetch_distgit(url, change.rev, ctx.workdir / "distgit", ctx.log_path, deadline)
    playbooks = prepare_playbooks(checkout.path / "tests", ctx.log_path)
    tmt = checkout_plans(checkout.path)
    if not playbooks and not tmt.plans:
        return no_tests(ctx, f"{change.repo} has no tests/tests*.yml and no tmt plans at {change.rev[:7]}")
    if uses_role(playbooks, "standard-test-source"):
        # The role unpacks the package's sources: they come from the lookaside cache, as for a build.
        fetch_sources(ctx.config.lookaside.url, change.namespace, change.repo, checkout.path)
    root = ctx.workdir / "root"
    outcomes: list[StageResult | StageFailure] = []
    try:
        install_root(ctx, root, required_packages(playbooks) if playbooks else [], tmt)
        if playbooks:
            suite = f"{change.repo} functional"
            tree = chroot_subject(root)
            outcomes.append(outcome_of(run_suite, ctx, playbooks, tree, "classic", suite, deadline))
        if tmt.plans:
            outcomes.append(outcome_of(run_tmt_plans, ctx, checkout.path, tmt, root, deadline))
    finally:
        remove_tree(root)
    result = combine(ctx, f"{change.repo} functional", outcomes)
    subject = ctx.options.get("container_subject")
    if not subject or not playbooks:
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


def install_root(ctx: StageContext, root: Path, sti_packages: list[str], tmt: TmtMetadata) -> None:
    """The fresh root of the build, with what the playbooks and the tmt tests need; the subject has
    no network, so a tmt requirement that cannot be installed is an ERROR of the plans, not a failure."""
    if not tmt.plans:
        functional_root(ctx, root, sti_packages)
        return
    try:
        functional_root(ctx, root, [*sti_packages, *TMT_SUBJECT_NEEDS, *tmt.requirements])
    except StageFailure as exc:
        needed = ", ".join([*TMT_SUBJECT_NEEDS, *tmt.requirements])
        error = TestCaseResult(f"requirements {TMT_ERROR}", "ERROR", log=f"{exc}\nNeeded: {needed}.")
        raise StageFailure(
            f"The test subject could not be made with the tmt tests' requirements ({needed}): {exc}",
            tests=[error],
        ) from exc


def run_tmt_plans(
    ctx: StageContext, checkout: Path, tmt: TmtMetadata, root: Path, deadline: Deadline
) -> StageResult:
    """The checkout's tmt plans in the sandboxed ``root``, judged."""
    provision = sandbox_provision(root, tmt.requirements)
    return judge_tmt(run_plans(ctx, checkout, tmt, provision, deadline))
