"""The subjects tests run against: never the host, always a fresh directory tree.

- functional (``classic``): a root that ``dnf --installroot`` fills with this run's build (from its own
  repository, ``build_repo_url``, where the run has one), its dependencies from the treefile's base
  repos, a ``/bin/sh`` and the playbooks' ``required_packages``;
- integration (``atomic``): an ``ostree checkout`` of the compose's commit, with ``/etc`` made from
  ``/usr/etc`` and the commit recorded as a deployment's initramfs records it at boot.

The tests reach the tree through the ``sti_chroot`` connection (``unshare`` + ``chroot``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.parse
from pathlib import Path

import httpx

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.artifacts import BUILD_REPO_FIELD, artifact_root, build_repo_url
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.ostree.compose_install import releasever, rpm_environment
from ci_pipeline.stages.ostree.treefile import run_treefile
from ci_pipeline.stages.tools import Deadline

DNF_TIMEOUT = 1800.0
_BINARY_RPM = re.compile(r"(?P<name>.+)-[^-/]+-[^-/]+\.(?!src\.)[^./]+\.rpm")
#: Installed roots kept for reuse (each is the build's packages and their dependencies: small).
KEPT_ROOTS = 8
_BASEURL = re.compile(r"^baseurl\s*=\s*(file://\S+)", re.M)
COMMIT_FILES = ("run/ci-pipeline/commit", "usr/lib/ci-pipeline/commit")


def build_repo_source(ctx: StageContext) -> tuple[str, Path | None]:
    """This run's build as a yum repo URL for dnf, and its local directory when it is on this host.

    The build's own repository (``build_repo_url``) is taken when the run has one: ``package_url``
    is the package's shared repository of the branch, which a newer build may replace meanwhile.
    """
    field = BUILD_REPO_FIELD if ctx.fields.get(BUILD_REPO_FIELD) else "package_url"
    url = build_repo_url(ctx.fields)
    prefix = ctx.config.artifacts_base_url + "/"
    if url.startswith(prefix):
        relative = urllib.parse.unquote(url[len(prefix) :]).strip("/")
        if not relative or ".." in relative.split("/"):
            raise StageFailure(f"The run's {field} {url!r} points outside the artifacts.")
        local = artifact_root(ctx.config) / relative
        if not (local / "repodata" / "repomd.xml").is_file():
            raise StageFailure(f"The build's yum repo {local} has no repodata; was the package built?")
        return local.as_uri(), local
    if not re.fullmatch(r"(https?|file)://[^\s,]+", url):
        raise StageFailure(f"The run's {field} {url!r} is not a yum repo URL.")
    if url.startswith("file://"):
        # An existing build's own repository on this host (``[fedora_ci] build_repo_url``): all its RPMs
        # are the build's.
        local = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
        if ".." not in local.parts and (local / "repodata" / "repomd.xml").is_file():
            return local.as_uri(), local
    return url, None


def build_packages(ctx: StageContext, local_repo: Path | None) -> list[str]:
    """The build's binary packages to install: RPM files of the local repo, else ``rpms`` names at the NVR."""
    if local_repo is not None:
        files = sorted(str(p) for p in local_repo.rglob("*.rpm") if _BINARY_RPM.fullmatch(p.name))
        if files:
            return files
    nvr = ctx.fields.get("nvr", "")
    _, version, release = nvr.rsplit("-", 2) if nvr.count("-") >= 2 else ("", "", "")
    names = [n for n in ctx.fields.get("rpms", "").split(",") if re.fullmatch(r"[A-Za-z0-9][\w.+-]*", n)]
    if not names or not version:
        raise StageFailure("The run names no packages of the build (fields rpms and nvr) to test.")
    return [f"{name}-{version}-{release}" for name in names]


def functional_root(ctx: StageContext, root: Path, extra_packages: list[str]) -> None:
    """Install the build's packages with their dependencies, a shell and ``extra_packages`` into ``root``."""
    repo_url, local_repo = build_repo_source(ctx)
    packages = build_packages(ctx, local_repo)
    for name in ("dnf-log", "dnf-persist"):
        (ctx.workdir / name).mkdir(exist_ok=True)
    cache = artifact_root(ctx.config) / ".tests-cache" / "dnf"
    argv = [
        "dnf",
        "-y",
        "-q",
        f"--releasever={releasever(ctx)}",
        f"--setopt=cachedir={cache}",
        f"--setopt=logdir={ctx.workdir / 'dnf-log'}",
        f"--setopt=persistdir={ctx.workdir / 'dnf-persist'}",
        "--setopt=install_weak_deps=False",
        "--setopt=tsflags=nodocs",
        "--nogpgcheck",
        "--disablerepo=*",
        f"--repofrompath=ci-build,{repo_url}",
        "--enablerepo=ci-build",
    ]
    if ctx.config.trigger.treefile:
        treefile = run_treefile(ctx)
        reposdir = ",".join(str(d) for d in treefile.repos_dirs)
        argv += [f"--setopt=reposdir={reposdir}", *(f"--enablerepo={r}" for r in treefile.repo_ids)]
    else:
        argv += [f"--setopt=reposdir={ctx.workdir / 'no-repos'}"]
    command = [*argv, "install", *packages, "/bin/sh", *extra_packages]
    cached = cache.parent / "roots" / _root_key(command, local_repo, ctx.config.trigger.treefile)
    if not cached.is_dir():
        building = cached.with_name(f".{cached.name}.{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        base.run_tool(
            [*command, f"--installroot={building}"],
            ctx.log_path,
            env=rpm_environment(ctx.workdir),
            timeout=DNF_TIMEOUT,
            failure="dnf could not install the package under test with its dependencies into a fresh root",
        )
        _add_dev_null(building)
        _keep_newest_roots(cached.parent)
        try:
            building.rename(cached)
        except OSError:
            # Another stage installed the same root at the same time: either copy is as good.
            shutil.rmtree(building, ignore_errors=True)
    # Every run gets its own copy: what the tests change dies with it, the cached root stays clean.
    base.run_tool(["cp", "-a", "--reflink=auto", str(cached), str(root)], ctx.log_path)


def _root_key(command: list[str], local_repo: Path | None, treefile: str) -> str:
    """Names an installed root: the same dnf command on the same repo metadata installs the same tree."""
    per_run = ("--setopt=logdir=", "--setopt=persistdir=")
    digest = hashlib.sha256("\0".join(c for c in command if not c.startswith(per_run)).encode())
    metadata = [local_repo] if local_repo else []
    if treefile:
        folder = Path(treefile).parent
        # The same folders as Treefile.repos_dirs: beside the treefile, and its repos/.
        for repo_file in sorted([*folder.glob("*.repo"), *folder.glob("repos/*.repo")]):
            digest.update(repo_file.read_bytes())
            metadata += [Path(urllib.parse.urlsplit(u).path) for u in _BASEURL.findall(repo_file.read_text())]
    for repo in metadata:
        repomd = repo / "repodata" / "repomd.xml"
        digest.update(repomd.read_bytes() if repomd.is_file() else b"remote")
    return digest.hexdigest()[:32]


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def _keep_newest_roots(roots: Path, keep: int = KEPT_ROOTS) -> None:
    finished = sorted((p for p in roots.iterdir() if not p.name.startswith(".")), key=_mtime)
    for old in finished[:-keep] if len(finished) > keep else []:
        shutil.rmtree(old, ignore_errors=True)


def compose_root(ctx: StageContext, repo: Path, commit: str, root: Path) -> None:
    """Check the commit out into the new directory ``root`` and make it look deployed."""
    if not (repo / "config").is_file():
        raise StageFailure(f"The compose's OSTree repo {repo} does not exist.")
    ostree.checkout(repo, commit, root, ctx.log_path)
    if not (root / "etc").exists() and (root / "usr/etc").is_dir():
        # A deployment's /etc is made from /usr/etc; the tests expect to find it there.
        base.run_tool(["cp", "-a", str(root / "usr/etc"), str(root / "etc")], ctx.log_path)
    for relative in COMMIT_FILES:
        # As the initramfs does at boot: the commit's checksum is what the tree says it is.
        target = root / relative
        if relative.startswith("run/") or target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.write_text(commit + "\n", encoding="ascii")
    _add_dev_null(root)


def _add_dev_null(root: Path) -> None:
    """Give the tree a /dev/null: shell tests redirect to it. A copy of the host's device node."""
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    target = dev / "null"
    if target.exists() or target.is_symlink():
        return
    try:
        os.mknod(target, 0o20666, os.makedev(1, 3))
        os.chmod(target, 0o666)
    except PermissionError:
        # Without CAP_MKNOD a plain empty file is the closest thing; writes to it are harmless.
        target.touch()


def container_root(ctx: StageContext, source: str, root: Path, deadline: Deadline) -> None:
    """Unpack a container's root filesystem (a ``docker export`` / ``podman export`` tarball) into ``root``.

    ``source`` is a file:// or http(s):// URL (checked as a run option). GNU tar strips leading
    slashes, refuses members with ``..`` and creates symlinks last, so nothing lands outside ``root``.
    """
    if source.startswith("file://"):
        tarball = Path(urllib.parse.unquote(urllib.parse.urlsplit(source).path))
        if not tarball.is_file():
            raise StageFailure(f"The container subject {source} does not exist.")
    else:
        tarball = ctx.workdir / "container.tar"
        try:
            with httpx.stream("GET", source, timeout=60, follow_redirects=True) as answer:
                answer.raise_for_status()
                with tarball.open("wb") as output:
                    for chunk in answer.iter_bytes():
                        output.write(chunk)
        except httpx.HTTPError as exc:
            raise StageFailure(f"The container subject {source} cannot be fetched: {exc}.") from exc
    root.mkdir(parents=True)
    base.run_tool(
        ["tar", "-xf", str(tarball), "-C", str(root)],
        ctx.log_path,
        timeout=deadline.remaining(),
        failure=f"The container subject {source} is not a root filesystem tarball",
    )
    _add_dev_null(root)


def remove_tree(root: Path) -> None:
    """Delete a subject tree; what the tests left there goes with it."""
    shutil.rmtree(root, ignore_errors=True)
