"""Install a compose's packages into a fresh root with dnf, and keep its package list.

dnf runs with ``--installroot`` on file:// repos only: the treefile's ``.repo`` files (their
directories are the ``reposdir``) and one ``--repofrompath`` repo per CI build the compose takes
(:mod:`.compose_builds`). Its cache is the branch's compose cache, so unchanged repo metadata is not
parsed again, and the branch's last installed root is brought up to date rather than installed again
(see :func:`install_root`): when only CI builds changed, rpm alone upgrades them, and dnf is not started.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.branches import branch_release
from ci_pipeline.errors import StageFailure
from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages import base
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.ostree.compose_builds import ComposeBuild
from ci_pipeline.treefile import Treefile

logger = get_logger(__name__)

DNF_TIMEOUT = 1800.0
PER_RUN_OPTIONS = ("--setopt=logdir=", "--setopt=persistdir=")
#: Options that name where a CI build lies: each build has its own repository, so they change
#: with every build while the root they install stays the same but for those builds.
BUILD_OPTIONS = ("--repofrompath=",)
#: How many package lists of earlier commits the cache keeps for the next diff.
KEPT_PACKAGE_LISTS = 20
RPMDB_PATH = "/var/lib/rpm"
_QUERY_FORMAT = r"%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\t%{SOURCERPM}\n"


def ci_package_files(build: ComposeBuild) -> list[Path]:
    """The binary RPMs of a CI build named like its package (``vim``, not ``vim-minimal``)."""
    name, repo_dir = build.name, build.path
    pattern = re.compile(rf"{re.escape(name)}-[^-/]+-[^-/]+\.(?!src\.)[^./]+\.rpm")
    return sorted(path for path in repo_dir.rglob("*.rpm") if pattern.fullmatch(path.name))


def ci_packages(build: ComposeBuild) -> list[str]:
    """The binary package of a CI build named like its package, when the build has one."""
    return [build.name] if ci_package_files(build) else []


def base_repos_fingerprint(treefile: Treefile) -> str | None:
    """A digest of the treefile repos' metadata, or None when one is not a local file:// repo.

    While it is unchanged, only CI builds can differ from the cached root.
    """
    digest = hashlib.sha256()
    for repo in treefile.repos:
        if not repo.baseurl or not repo.baseurl.startswith("file://"):
            return None
        repomd = Path(repo.baseurl.removeprefix("file://")) / "repodata" / "repomd.xml"
        try:
            digest.update(repo.id.encode() + b"\0" + repomd.read_bytes())
        except OSError:
            return None
    return digest.hexdigest()


def dnf_command(
    ctx: StageContext,
    artifacts: BranchArtifacts,
    treefile: Treefile,
    installroot: Path,
    builds: Sequence[ComposeBuild],
) -> tuple[list[str], list[str]]:
    """dnf's options for a compose, and the packages it installs."""
    argv = [
        "dnf",
        "-y",
        "-q",
        f"--installroot={installroot}",
        f"--releasever={treefile.releasever or releasever(ctx)}",
        f"--setopt=reposdir={','.join(str(d) for d in treefile.repos_dirs)}",
        f"--setopt=cachedir={artifacts.cache_dir / 'dnf'}",
        f"--setopt=logdir={ctx.workdir / 'dnf-log'}",
        f"--setopt=persistdir={ctx.workdir / 'dnf-persist'}",
        f"--setopt=install_weak_deps={treefile.recommends}",
        "--setopt=keepcache=True",
        "--nogpgcheck",
        # CI repos change between composes: check every repomd.xml (cheap), reuse unchanged metadata.
        "--refresh",
        "--disablerepo=*",
    ]
    argv += [f"--enablerepo={repo}" for repo in treefile.repo_ids]
    if not treefile.documentation:
        argv.append("--setopt=tsflags=nodocs")
    # rpm-ostree's exclude-packages: a package that needs an excluded one fails the install.
    argv += [f"--exclude={name}" for name in treefile.exclude_packages]
    packages = list(treefile.packages)
    for build in builds:
        repo_id = f"ci-{build.name}"
        argv += [f"--repofrompath={repo_id},{build.path.as_uri()}", f"--enablerepo={repo_id}"]
        packages += [name for name in ci_packages(build) if name not in packages]
    return argv, packages


def rpm_environment(workdir: Path) -> dict[str, str]:
    """Environment for dnf and rpm on a compose root: its rpm database goes to /var/lib/rpm.

    Debian's rpm keeps its database in ``~/.rpmdb``; a ``~/.rpmmacros`` of our own puts it where an
    RPM-based OS has it, whoever's home the tools would otherwise read.
    """
    home = workdir / "rpm-home"
    home.mkdir(exist_ok=True)
    (home / ".rpmmacros").write_text(f"%_dbpath {RPMDB_PATH}\n", encoding="utf-8")
    return {**os.environ, "HOME": str(home)}


def releasever(ctx: StageContext) -> str:
    """The release of the run's branch: ``f26`` is 26, ``rawhide`` is ``pipeline.rawhide``."""
    try:
        return branch_release(ctx.fields.get("branch", ""), ctx.config.pipeline.rawhide).releasever
    except ValueError as exc:
        branch = ctx.fields.get("branch", "")
        raise StageFailure(f"The branch {branch} has no release ci-pipeline knows.") from exc


def install_root(
    ctx: StageContext,
    artifacts: BranchArtifacts,
    treefile: Treefile,
    root: Path,
    builds: Sequence[ComposeBuild],
) -> bool:
    """Fill the new directory ``root`` with the treefile's packages and the CI ``builds``.

    The branch's cache keeps the last installed root. When the treefile, base repos and package
    names are the same as then, rpm (or else ``dnf distro-sync``) brings that root to ``builds``
    (one changed package is one small transaction) instead of installing everything again. Returns
    whether the cached root was reused.
    """
    for name in ("dnf-log", "dnf-persist"):
        (ctx.workdir / name).mkdir(exist_ok=True)
    installroot = artifacts.cache_dir / "installroot"
    stamp_file = artifacts.cache_dir / "installroot.json"
    argv, packages = dnf_command(ctx, artifacts, treefile, installroot, builds)
    base_repos = base_repos_fingerprint(treefile)
    # The per-run work directories and build repos in dnf's options must not make every root look
    # different: the builds themselves are brought in below.
    options = [option for option in argv if not option.startswith((*PER_RUN_OPTIONS, *BUILD_OPTIONS))]
    stamp = json.dumps({"options": options, "packages": packages, "base": base_repos}, sort_keys=True)
    reuse = installroot.is_dir() and stamp_file.is_file() and stamp_file.read_text(encoding="utf-8") == stamp
    stamp_file.unlink(missing_ok=True)
    if not reuse:
        shutil.rmtree(installroot, ignore_errors=True)
        installroot.mkdir(parents=True)
    upgraded = reuse and base_repos is not None and upgrade_ci_builds(ctx, builds, installroot)
    if not upgraded:
        command = [*argv, "distro-sync"] if reuse else [*argv, "install", *packages]
        base.run_tool(
            command,
            ctx.log_path,
            env=rpm_environment(ctx.workdir),
            timeout=DNF_TIMEOUT,
            failure="dnf could not install the compose's packages",
        )
    # Only a root that dnf finished with may be reused.
    stamp_file.write_text(stamp, encoding="utf-8")
    base.run_tool(["cp", "-a", "--reflink=auto", str(installroot), str(root)], ctx.log_path)
    return reuse


def upgrade_ci_builds(ctx: StageContext, builds: Sequence[ComposeBuild], installroot: Path) -> bool:
    """Bring the cached root to ``builds`` with rpm alone (no dnf start-up).

    A build older than the installed one (the one installed failed its tests after all, or a rerun
    composes an earlier change) replaces it too. Returns False when rpm cannot do it (a new
    dependency, a conflict): then dnf must.
    """
    installed = {nvra for nvra, _ in package_list(installroot, ctx.workdir, ctx.log_path)}
    changed = [
        rpm
        for build in builds
        for rpm in ci_package_files(build)
        if rpm.name.removesuffix(".rpm") not in installed
    ]
    if not changed:
        return True
    command = [
        "rpm",
        f"--root={installroot}",
        f"--dbpath={RPMDB_PATH}",
        "-Uvh",
        "--oldpackage",
        "--nosignature",
        *map(str, changed),
    ]
    try:
        base.run_tool(command, ctx.log_path, env=rpm_environment(ctx.workdir), timeout=DNF_TIMEOUT)
    except StageFailure:
        logger.info("rpm could not upgrade the cached root alone; dnf will")
        return False
    return True


def package_list(root: Path, workdir: Path, log_path: Path) -> list[tuple[str, str]]:
    """(NVRA, source RPM) of every package installed in ``root``, sorted."""
    text = ostree.run_to_file(
        ["rpm", "-qa", f"--root={root}", f"--dbpath={RPMDB_PATH}", f"--queryformat={_QUERY_FORMAT}"],
        workdir / "rpm-qa.txt",
        log_path,
    )
    rows = [line.split("\t", 1) for line in text.splitlines() if "\t" in line]
    return sorted((nvra, source) for nvra, source in rows)


def write_package_lists(
    packages: list[tuple[str, str]], checksum: str, parent: str | None, cache: Path, artifacts_dir: Path
) -> None:
    """Keep ``packages.txt`` and ``packages.diff`` (against the parent commit's list) as artifacts."""
    lines = [f"{nvra}\n" for nvra, _ in packages]
    lists = cache / "package-lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / f"{checksum}.txt").write_text("".join(lines), encoding="utf-8")
    previous_file = lists / f"{parent}.txt"
    previous = previous_file.read_text(encoding="utf-8").splitlines(True) if previous_file.is_file() else []
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    (artifacts_dir / "packages.txt").write_text("".join(lines), encoding="utf-8")
    diff = difflib.unified_diff(
        previous, lines, fromfile=f"{parent or 'nothing'}/packages.txt", tofile=f"{checksum}/packages.txt"
    )
    (artifacts_dir / "packages.diff").write_text("".join(diff), encoding="utf-8")
    for old in sorted(lists.glob("*.txt"), key=lambda p: p.stat().st_mtime)[:-KEPT_PACKAGE_LISTS]:
        old.unlink()
