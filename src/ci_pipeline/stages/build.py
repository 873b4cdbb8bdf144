"""The "Build Package" stage: dist-git at ``rev`` -> marked SRPM and RPMs (``%check`` runs) -> yum repo.

Outputs: ``nvr`` (the release marked ``.<commit count>.<rev[:7]>``), ``original_spec_nvr``,
``package_url`` (the published yum repository, ``<artifacts>/<branch>/repo/<repo>_repo/``, which the
package's next build replaces), ``build_repo_url`` (the same RPMs as a repository of this build's own,
``repo/`` in the stage's artifacts, which nothing replaces: composes take good builds from there),
``rpms`` (comma-separated binary package names), ``srpm`` (the source RPM's file name) and
``commit_count``. A spec that uses rpmautospec (``%autorelease``, ``%autochangelog``) is expanded
from the dist-git history first, as Fedora's build system does. ``[build] mock_config`` (or the
per-run option ``mock_config``) builds in mock where mock is installed.
"""

from __future__ import annotations

import time
from pathlib import Path

from ci_pipeline.branches import branch_release
from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages.artifacts import BUILD_REPO_DIR, BUILD_REPO_FIELD, repo_location
from ci_pipeline.stages.base import StageContext, StageResult, TestCaseResult
from ci_pipeline.stages.fields import Change, validated_change
from ci_pipeline.stages.git.distgit import Checkout, distgit_url, fetch_distgit
from ci_pipeline.stages.git.lookaside import fetch_sources
from ci_pipeline.stages.rpm.autospec import expand_autospec
from ci_pipeline.stages.rpm.rpmbuild import binary_rpm_name, build_packages
from ci_pipeline.stages.rpm.specfile import has_check_section, plan_release, release_mark
from ci_pipeline.stages.rpm.yumrepo import publish_yum_repo
from ci_pipeline.stages.tools import Deadline

logger = get_logger(__name__)

def fetch_package(ctx: StageContext, change: Change, deadline: Deadline) -> tuple[Checkout, Path]:
    """The dist-git checkout at the change's rev with its lookaside sources in place, and its spec."""
    url = distgit_url(ctx.config.distgit.url, change.namespace, change.repo)
    logger.info("Fetching %s at %s", url, change.rev)
    checkout = fetch_distgit(url, change.rev, ctx.workdir / "distgit", ctx.log_path, deadline)
    spec = checkout.path / f"{change.repo}.spec"
    if not spec.is_file() or spec.is_symlink():
        raise StageFailure(
            f"The dist-git repository {change.repo} at {change.rev[:7]} has no {change.repo}.spec."
        )
    fetch_sources(ctx.config.lookaside.url, change.namespace, change.repo, checkout.path)
    return checkout, spec


def run(ctx: StageContext) -> StageResult:
    """Build the package of ``ctx.fields`` with its unit tests and publish it as a yum repository."""
    change = validated_change(ctx.fields)
    deadline = Deadline(ctx.timeout, ctx.stage)
    try:
        release = branch_release(change.branch, ctx.config.pipeline.rawhide)
    except ValueError as exc:
        raise StageFailure(f"The branch {change.branch} has no dist tag ci-pipeline knows.") from exc
    checkout, spec = fetch_package(ctx, change, deadline)
    spec = expand_autospec(spec, ctx.workdir / f"{change.repo}.autospec.spec")
    mark = release_mark(checkout.commit_count, change.rev)
    marked_spec = ctx.workdir / f"{change.repo}.marked.spec"
    plan = plan_release(spec, release, mark, marked_spec, ctx.log_path, deadline)
    logger.info("Building %s (spec NVR %s)", plan.nvr, plan.original_nvr)
    started = time.monotonic()
    mock_config = ctx.options.get("mock_config") or ctx.config.build.mock_config
    built = build_packages(
        plan.spec,
        checkout.path,
        ctx.workdir / "rpmbuild",
        plan.macros,
        plan.nvr,
        ctx.log_path,
        deadline,
        mock_config=mock_config,
    )
    build_seconds = time.monotonic() - started
    repo_dir, package_url = repo_location(ctx.config, change)
    publish_yum_repo([*built.rpms, built.srpm], ctx.artifacts_dir / BUILD_REPO_DIR, ctx.log_path, deadline)
    publish_yum_repo([*built.rpms, built.srpm], repo_dir, ctx.log_path, deadline)
    logger.info("Published %s at %s", plan.nvr, package_url)
    tests: tuple[TestCaseResult, ...] = ()
    if has_check_section(spec.read_text(encoding="utf-8", errors="replace")):
        tests = (TestCaseResult(name=f"{change.repo} %check", outcome="PASSED", duration=build_seconds),)
    outputs = {
        "nvr": plan.nvr,
        "original_spec_nvr": plan.original_nvr,
        "package_url": package_url,
        BUILD_REPO_FIELD: f"{ctx.artifacts_url.rstrip('/')}/{BUILD_REPO_DIR}/",
        "rpms": ",".join(sorted({binary_rpm_name(rpm.name) for rpm in built.rpms})),
        "srpm": built.srpm.name,
        "commit_count": str(checkout.commit_count),
    }
    return StageResult(outputs=outputs, summary=f"Built {plan.nvr} ({len(built.rpms)} RPMs).", tests=tests)
