"""The bundled example OS ("world"): a small RPM + OSTree operating system built on the spot, offline.

``create_world(root)`` builds (or reuses, when complete) everything the pipeline runs on::

    <root>/git/rpms/<package>.git          bare dist-git repos, branches f26 and master, 2-3 commits each:
                                           <package>.spec, sources, .gitignore, tests/tests.yml (apps)
    <root>/git/tests/atomic-host-tests.git integration tests of a compose: tests/tests.yml (STI)
    <root>/lookaside/rpms/<package>/<file>/<hashtype>/<hash>/<file>    source tarballs, Fedora layout
    <root>/repos/base/                     yum repo (createrepo_c) of every package, built at creation
    <root>/repos/base.repo                 [base] baseurl=file://<root>/repos/base, gpgcheck=0
    <root>/treefile.yaml                   rpm-ostree treefile in YAML, as Fedora's: ref with ${basearch},
                                           repos ["base"], the applications, include: treefile-base.yaml
    <root>/treefile-base.yaml              the base packages and how the tree is made

Configure the pipeline with ``World.distgit_url`` and ``World.lookaside_url`` (the ``[distgit]`` and
``[lookaside]`` URL templates) and ``World.treefile``; give dnf the repos with
``--setopt=reposdir=<root>/repos`` (or ``--repofrompath``). ``sources`` files use the new form
``SHA512 (<file>) = <hash>``, except ci-filesystem, which keeps the old ``<md5>  <file>`` form; read
them with :func:`ci_pipeline.stages.git.lookaside.parse_sources`. Specs build with
``rpmbuild -ba --define "dist .fc26"`` as root, without BuildRequires (gcc and make come from the host).

Packages: ci-filesystem (directory layout, /usr/lib/os-release with VERSION_ID=26, /etc/os-release link,
/bin -> usr/bin ..., root's shell bash, tmpfiles.d lines for /var), ci-busybox (/usr/bin/busybox and its
applets, /usr/sbin/init, /etc/inittab, /etc/init.d/rcS, udhcpc's lease script), ci-kernel
(/usr/lib/modules/<kver>/vmlinuz and initramfs.img, the OSTree convention), ci-cloud-init (reads a
cloud-init NoCloud seed at boot), ci-bash, ci-dropbear (the SSH server), ci-ostree, ci-rpm, ci-rsync and
ci-util-linux (flock) (Debian's programs with their shared libraries, see
:mod:`ci_pipeline.example.closure`; rsync and flock are what tmt runs on a machine), and the applications
ci-hello and ci-calc (static C programs; unit tests in %check; functional tests in tests/tests.yml,
which run the installed program and need nothing but /bin/sh).

Booting (for the image and smoke stages): kernel ``/usr/lib/modules/<kver>/vmlinuz``, initrd
``initramfs.img`` beside it, command line ``root=<device|LABEL=..|UUID=..> console=ttyS0
[ostree=/ostree/boot.N/<os>/<bootcsum>/0]``. The initramfs loads the virtio drivers (the Debian cloud
kernel has them as modules; ext4 is built in), mounts root= and, with ostree=, enters that deployment
(deployment as /, physical root as /sysroot, the stateroot's var as /var); without ostree= it runs
root= itself. ``/usr/sbin/init`` (busybox) runs ``/etc/init.d/rcS`` and keeps running, as a cloud image
does: rcS mounts the kernel file systems, records the OSTree boot (``/run/ostree-booted``, the physical
/boot at /boot), makes /var from tmpfiles.d, then runs ``/etc/init.d/S20cloud-init`` (a NoCloud seed
labelled cidata, vfat or iso9660: hostname from meta-data, root's SSH keys from ``#cloud-config``
user-data, network-config version 2, else DHCP on the first network card) and
``/etc/init.d/S50dropbear`` (host keys made on first boot and printed on the console between
``-----BEGIN SSH HOST KEY KEYS-----`` and ``-----END SSH HOST KEY KEYS-----``, then the SSH server on
port 22, keys only). Over SSH, ``ostree admin status`` names the booted deployment and ``rpm -q``
reads the tree's rpm database. The console carries ordinary boot messages only.

An initramfs that cannot mount the root prints ``CI-PIPELINE-INITRAMFS-FAILED <reason>`` and powers
off. ``push_change(world, package)`` makes a new dist-git commit (release bump + changelog entry;
with ``break_tests=True`` also a patch that breaks the functional tests but not the build or %check).
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from ci_pipeline.errors import UsageError
from ci_pipeline.example import distgit, specs
from ci_pipeline.example.catalog import INTEGRATION_TESTS_DIR, RECIPES, Recipe, recipe, tarball_members
from ci_pipeline.example.host import HostKernel, find_busybox, find_kernel
from ci_pipeline.example.rpmbuild import built_rpms, createrepo, rpmbuild
from ci_pipeline.example.sources import SourceEntry, make_tarball, upload
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

WORLD_FORMAT = 5
NAMESPACE = "rpms"
BRANCH = "f26"
BRANCHES = (BRANCH, "master")
REF = "fedora/f26/x86_64/atomic-host"
OSNAME = "fedora-atomic"
# The dates of the three commits every package's history starts with.
HISTORY_DATES = ("2017-06-05T12:00:00+00:00", "2017-06-06T12:00:00+00:00", "2017-06-07T12:00:00+00:00")
_MARKER = ".world-complete"
_BRANCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class World:
    """Where the parts of a built example OS are, and the URL templates that reach them."""

    root: Path
    git_dir: Path
    lookaside_dir: Path
    base_repo: Path
    repo_file: Path
    treefile: Path
    tests_repo: Path
    packages: tuple[str, ...]
    applications: tuple[str, ...]
    distgit_url: str
    lookaside_url: str
    ref: str = REF
    branch: str = BRANCH
    namespace: str = NAMESPACE

    def distgit_repo(self, package: str) -> Path:
        """The bare dist-git repository of ``package``."""
        return self.git_dir / self.namespace / f"{package}.git"


def world_at(root: Path) -> World:
    """The layout of a world at ``root`` (nothing is created)."""
    root = root.resolve()
    return World(
        root=root,
        git_dir=root / "git",
        lookaside_dir=root / "lookaside",
        base_repo=root / "repos" / "base",
        repo_file=root / "repos" / "base.repo",
        treefile=root / "treefile.yaml",
        tests_repo=root / "git" / "tests" / "atomic-host-tests.git",
        packages=tuple(r.name for r in RECIPES),
        applications=tuple(r.name for r in RECIPES if r.application),
        distgit_url=f"file://{root}/git/{{namespace}}/{{repo}}.git",
        lookaside_url=f"file://{root}/lookaside/{{namespace}}/{{repo}}/{{filename}}/{{hashtype}}/{{hash}}/{{filename}}",
    )


def create_world(root: Path, *, busybox: Path | None = None, kernel: HostKernel | None = None) -> World:
    """Build the example OS under ``root``, or return the complete one already there."""
    root.mkdir(parents=True, exist_ok=True)
    world = world_at(root)
    with _locked(world.root):
        if _is_complete(world):
            log.info("reusing the example OS at %s", world.root)
            return world
        started = time.monotonic()
        _clear(world)
        with tempfile.TemporaryDirectory(dir=world.root, prefix=".build-") as scratch:
            _build(world, Path(scratch), find_busybox(busybox) if busybox else find_busybox(), kernel)
        (world.root / _MARKER).write_text(json.dumps({"format": WORLD_FORMAT, "packages": world.packages}))
        log.info("built the example OS at %s in %.1f s", world.root, time.monotonic() - started)
    return world


def push_change(world: World, package: str, *, branch: str = BRANCH, break_tests: bool = False) -> str:
    """Commit and push a release bump of ``package`` on ``branch``; return the new 40-hex rev.

    With ``break_tests`` the change also adds a patch that breaks the functional tests while the build
    and %check still pass (applications only).
    """
    if package not in world.packages:
        choices = ", ".join(world.packages)
        raise UsageError(f"The example OS has no package {package!r}; choose one of {choices}.")
    if not _BRANCH_NAME.match(branch):
        raise UsageError(f"{branch!r} is not a branch name.")
    if break_tests and package not in world.applications:
        choices = ", ".join(world.applications)
        raise UsageError(f"{package} has no functional tests to break; choose one of {choices}.")
    with tempfile.TemporaryDirectory(prefix="ci-example-push-") as scratch:
        work = distgit.clone(world.distgit_repo(package), branch, Path(scratch) / package)
        message = _change_spec(work, recipe(package), break_tests)
        rev = distgit.commit_all(work, message)
        distgit.push(work, "origin", [f"HEAD:{branch}"])
    log.info("pushed %s to %s on %s: %s", rev[:7], package, branch, message)
    return rev


def _change_spec(work: Path, package: Recipe, break_tests: bool) -> str:
    spec_path = work / f"{package.name}.spec"
    spec = spec_path.read_text()
    message = "Rebuild with no functional change"
    if break_tests:
        patch_name = f"{package.name}-regression.patch"
        message = f"Apply {patch_name}: change the output of {package.name}"
        if patch_name not in spec:
            shutil.copyfile(package.regression_patch, work / patch_name)
            spec = specs.add_patch(spec, patch_name)
    spec_path.write_text(specs.bump(spec, date.today(), message))
    return message


def _build(world: World, scratch: Path, busybox: Path, kernel: HostKernel | None) -> None:
    host_kernel = kernel or find_kernel()
    tarballs = {}
    for package in RECIPES:
        top = f"{package.name}-{package.version}"
        members = tarball_members(package, busybox, host_kernel)
        tarball = make_tarball(scratch / "tarballs" / package.tarball_name, top, members)
        old_form = package.old_form_sources
        entry = upload(tarball, world.lookaside_dir, world.namespace, package.name, old_form=old_form)
        _create_distgit(world, package, entry, scratch / "work" / package.name)
        tarballs[package.name] = tarball
    _build_base_repo(world, tarballs, scratch / "rpmbuild")
    _write_repo_file(world)
    _write_treefile(world)
    _create_tests_repo(world, scratch / "work" / "atomic-host-tests")


def _create_distgit(world: World, package: Recipe, entry: SourceEntry, work: Path) -> None:
    final = package.spec_path.read_text()
    first = specs.with_release(specs.drop_top_changelog_entry(final), specs.release_of(final) - 1)
    distgit.init_worktree(work)
    (work / package.spec_path.name).write_text(first)
    (work / "sources").write_text(entry.line() + "\n")
    (work / ".gitignore").write_text(f"/{entry.filename}\n")
    distgit.commit_all(work, f"Initial import of {package.name}-{package.version}", when=HISTORY_DATES[0])
    (work / package.spec_path.name).write_text(final)
    distgit.commit_all(work, specs.top_changelog_text(final), when=HISTORY_DATES[1])
    if package.application:
        (work / "tests").mkdir()
        shutil.copyfile(package.tests_path, work / "tests" / "tests.yml")
        distgit.commit_all(work, "Add functional tests (Standard Test Interface)", when=HISTORY_DATES[2])
    bare = distgit.init_bare(world.distgit_repo(package.name))
    distgit.push(work, str(bare), [f"HEAD:{branch}" for branch in BRANCHES])


def _build_base_repo(world: World, tarballs: dict[str, Path], topdir: Path) -> None:
    def build(package: Recipe) -> list[Path]:
        package_topdir = topdir / package.name
        rpmbuild(package.spec_path, [tarballs[package.name]], package_topdir)
        return built_rpms(package_topdir)

    # Two at a time: the packages are small, and the machine may have only two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = [rpm for rpms in pool.map(build, RECIPES) for rpm in rpms]
    target = world.base_repo / "Packages"
    target.mkdir(parents=True, exist_ok=True)
    for rpm in built:
        shutil.copyfile(rpm, target / rpm.name)
    createrepo(world.base_repo)


def _write_repo_file(world: World) -> None:
    world.repo_file.write_text(
        "[base]\n"
        "name=CI pipeline example OS 26 - base\n"
        f"baseurl=file://{world.base_repo}\n"
        "enabled=1\n"
        "gpgcheck=0\n"
    )


def _write_treefile(world: World) -> None:
    base = [r.name for r in RECIPES if not r.application]
    apps = [r.name for r in RECIPES if r.application]
    (world.root / "treefile-base.yaml").write_text(
        "# What every variant of the example OS has: its base packages and how the tree is made.\n"
        + yaml.safe_dump(
            {
                "packages": base,
                "selinux": False,
                "boot-location": "modules",
                "tmp-is-dir": True,
                "documentation": False,
                "recommends": False,
            },
            sort_keys=False,
        )
    )
    top = {
        "include": "treefile-base.yaml",
        "ref": world.ref.replace("/x86_64/", "/${basearch}/"),
        "osname": OSNAME,
        "repos": ["base"],
        "packages": apps,
        "automatic_version_prefix": "26",
    }
    world.treefile.write_text(
        "# The example OS's host, as fedora-atomic's treefiles are written.\n"
        + yaml.safe_dump(top, sort_keys=False)
    )


def _create_tests_repo(world: World, work: Path) -> None:
    distgit.init_worktree(work)
    shutil.copytree(INTEGRATION_TESTS_DIR, work, dirs_exist_ok=True)
    distgit.commit_all(work, "Add integration tests of the example OS", when=HISTORY_DATES[0])
    distgit.push(work, str(distgit.init_bare(world.tests_repo)), [f"HEAD:{branch}" for branch in BRANCHES])


def _is_complete(world: World) -> bool:
    marker = world.root / _MARKER
    if not marker.exists():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    expected = {"format": WORLD_FORMAT, "packages": list(world.packages)}
    needed = [world.treefile, world.repo_file, world.base_repo / "repodata" / "repomd.xml", world.tests_repo]
    needed += [world.distgit_repo(package) for package in world.packages]
    return bool(recorded == expected and all(path.exists() for path in needed))


def _clear(world: World) -> None:
    """Remove what a partial earlier build left, and only that."""
    (world.root / _MARKER).unlink(missing_ok=True)
    world.treefile.unlink(missing_ok=True)
    (world.root / "treefile-base.yaml").unlink(missing_ok=True)
    for directory in (world.git_dir, world.lookaside_dir, world.base_repo.parent):
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    # Two processes building one world at once would each clear the other's work.
    with (root / ".world.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
