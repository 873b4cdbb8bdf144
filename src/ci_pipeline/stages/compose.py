"""The compose stage: the OS's packages plus the branch's good CI builds, committed to its OSTree.

Reads the treefile (``trigger.treefile``, :mod:`ci_pipeline.treefile`), installs its packages with
``dnf --installroot`` from the treefile's repos (without its ``exclude-packages``) and, per package
of the branch, the newest CI build whose functional tests passed, with the run's own build for its
package (:mod:`.ostree.compose_builds`: a build that failed never enters a compose), applies the
treefile's content keys (:mod:`.ostree.treefile_apply`: units, removed and added files, postprocess
scripts run inside the tree), reshapes the root for OSTree (:mod:`.ostree.tree`) and commits it at
the treefile's ref
into ``<artifacts.root>/<branch>/ostree`` (archive mode). rpm-ostree itself is not used: Debian,
where this runs, does not package it.

Treefile keys the compose does not apply are named in its log and its summary.
Kept as artifacts: ``builds.txt`` (the CI builds taken, package and repository URL),
``packages.txt`` (``rpm -qa``) and ``packages.diff`` against the previous commit.
Composes of one branch are serialised by a lock file; commits older than :data:`KEEP_YOUNGER_THAN`
are pruned. Outputs: ``compose_url``, ``compose_rev`` (the commit checksum), ``ref``.

Speed: a cold compose is dnf's solving and rpm's transaction plus checksumming every file. The
next compose reuses the dnf cache, commits first into a ``bare`` cache repo beside the archive repo
(cheap writes) and copies only the new objects into the archive repo, whose compression of the
kernel and the rest is the costly part of a cold commit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.fields import checked_nvr
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.ostree.compose_builds import ComposeBuild, locate_builds, requested_builds
from ci_pipeline.stages.ostree.compose_install import (
    install_root,
    package_list,
    releasever,
    write_package_lists,
)
from ci_pipeline.stages.ostree.tree import kernel_versions, prepare_tree
from ci_pipeline.stages.ostree.treefile import Treefile, run_treefile
from ci_pipeline.stages.ostree.treefile_apply import apply_treefile, report_keys
from ci_pipeline.stages.qemu.initramfs import build_initramfs

logger = get_logger(__name__)

#: Commits older than this are pruned from the branch's repo (``ostree prune`` syntax).
KEEP_YOUNGER_THAN = "30 days ago"


def run(ctx: StageContext) -> StageResult:
    """Compose the branch's OS tree with the run's build and commit it; see the module docstring."""
    treefile = run_treefile(ctx)
    not_applied = report_keys(treefile, ctx.log_path)
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    builds = locate_builds(ctx.config, requested_builds(ctx.fields))
    with artifacts.locked():
        checksum = compose(ctx, artifacts, treefile, builds)
    return StageResult(
        outputs={"compose_url": artifacts.compose_url, "compose_rev": checksum, "ref": treefile.ref},
        summary=f"Committed {checksum[:15]} to {treefile.ref}.{not_applied}",
    )


def compose(
    ctx: StageContext, artifacts: BranchArtifacts, treefile: Treefile, builds: list[ComposeBuild]
) -> str:
    """Build the tree with the CI ``builds``, commit it to the branch's repo and return its checksum."""
    repo, cache = artifacts.ostree_repo, artifacts.cache_dir
    ostree.init_repo(repo, "archive", ctx.log_path)
    ostree.init_repo(cache / "objects-bare", "bare", ctx.log_path, fsync=False)
    parent = ostree.resolve_ref(repo, treefile.ref)
    root = ctx.workdir / "root"
    _record_builds(builds, ctx.log_path, ctx.artifacts_dir)
    reused = install_root(ctx, artifacts, treefile, root, builds)
    packages = package_list(root, ctx.workdir, ctx.log_path)
    if ctx.fields.get("nvr"):
        _require_build(packages, checked_nvr(ctx.fields))
    apply_treefile(treefile, root, ctx.workdir, ctx.log_path)
    prepare_tree(root)
    _add_missing_initramfs(root, ctx.workdir, ctx.log_path)
    count = _commit_count(repo, parent, ctx)
    checksum = ostree.commit_tree(
        cache / "objects-bare",
        treefile.ref,
        root,
        ctx.log_path,
        subject=_subject(ctx),
        version=f"{treefile.releasever or releasever(ctx)}.{count}",
        parent=parent,
    )
    ostree.pull_local(repo, cache / "objects-bare", treefile.ref, ctx.log_path)
    ostree.prune(repo, KEEP_YOUNGER_THAN, ctx.log_path)
    ostree.update_summary(repo, ctx.log_path)
    write_package_lists(packages, checksum, parent, cache, ctx.artifacts_dir)
    shutil.rmtree(root, ignore_errors=True)
    logger.info("compose of %s: %s (installed root reused: %s)", treefile.ref, checksum, reused)
    return checksum


def _record_builds(builds: list[ComposeBuild], log_path: Path, artifacts_dir: Path) -> None:
    """Say in the log and in ``builds.txt`` which CI build of each package the compose takes."""
    lines = "".join(f"{build.name}\t{build.url}\n" for build in builds)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    (artifacts_dir / "builds.txt").write_text(lines, encoding="utf-8")
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"CI builds in this compose (package, repository):\n{lines}")


def _require_build(packages: list[tuple[str, str]], nvr: str) -> None:
    if not any(source == f"{nvr}.src.rpm" for _, source in packages):
        raise StageFailure(
            f"The compose holds no package built from {nvr}: check that the treefile lists it "
            "and that the run's build repository (build_repo_url) holds it."
        )


def _add_missing_initramfs(root: Path, workdir: Path, log_path: Path) -> None:
    kernels = kernel_versions(root)
    if not kernels:
        raise StageFailure("The composed tree has no kernel in /usr/lib/modules/<version>/vmlinuz.")
    for kver in kernels:
        target = root / "usr/lib/modules" / kver / "initramfs.img"
        if not target.exists():
            build_initramfs(target, workdir, log_path, module_dir=target.parent)


def _commit_count(repo: Path, parent: str | None, ctx: StageContext) -> int:
    """One more than the parent's count (the ``<n>`` in its ``version``); 1 for the first commit."""
    if parent is None:
        return 1
    out = ctx.workdir / "parent-version.txt"
    text = ostree.run_to_file(
        ["ostree", f"--repo={repo}", "show", "--print-metadata-key=version", parent], out, ctx.log_path
    )
    last = text.strip().strip("'").rpartition(".")[2]
    return int(last) + 1 if last.isdigit() else 1


def _subject(ctx: StageContext) -> str:
    nvr = ctx.fields.get("nvr", "")
    return f"ci-pipeline run {ctx.run_id}: {nvr}" if nvr else f"ci-pipeline run {ctx.run_id}"
