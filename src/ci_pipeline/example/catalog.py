"""The packages of the example OS and what goes into each one's source tarball.

Each package's files live in this folder's ``packages/<name>/``: ``<name>.spec``, ``files/`` (the
upstream source, packed as ``<name>-<version>.tar.gz`` with top folder ``<name>-<version>/``) and,
for the applications, ``tests/tests.yml`` and ``regression.patch`` (a code change that breaks the
functional tests but not the unit tests). ci-busybox and ci-kernel add binaries from the build host;
ci-dropbear, ci-ostree, ci-rpm, ci-rsync and ci-util-linux carry Debian's programs with their shared libraries
(:mod:`ci_pipeline.example.closure`), under ``root/`` in the tarball.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.example.closure import CHECK_SCRIPT, closure_members
from ci_pipeline.example.host import HostKernel
from ci_pipeline.example.specs import version_of

DATA_DIR = Path(__file__).resolve().parent
PACKAGES_DIR = DATA_DIR / "packages"
INTEGRATION_TESTS_DIR = DATA_DIR / "integration-tests"


@dataclass(frozen=True)
class Recipe:
    """How one example package's dist-git repository and tarball are made."""

    name: str
    application: bool = False
    old_form_sources: bool = False
    #: Dynamically linked programs of the build host the package carries with their libraries.
    host_programs: tuple[str, ...] = ()
    #: Data files of the build host the package carries as they are.
    host_files: tuple[str, ...] = ()

    @property
    def directory(self) -> Path:
        """The package's folder in the package data."""
        return PACKAGES_DIR / self.name

    @property
    def spec_path(self) -> Path:
        """The final spec, as the newest commit of the dist-git repository holds it."""
        return self.directory / f"{self.name}.spec"

    @property
    def version(self) -> str:
        """The spec's Version."""
        return version_of(self.spec_path.read_text())

    @property
    def tarball_name(self) -> str:
        """The Source0 file name."""
        return f"{self.name}-{self.version}.tar.gz"

    @property
    def tests_path(self) -> Path:
        """The functional tests playbook (applications only)."""
        return self.directory / "tests" / "tests.yml"

    @property
    def regression_patch(self) -> Path:
        """A change that breaks the functional tests while the build and %check pass."""
        return self.directory / "regression.patch"


RECIPES = (
    Recipe("ci-filesystem", old_form_sources=True),
    Recipe("ci-busybox"),
    Recipe("ci-kernel"),
    Recipe("ci-cloud-init"),
    Recipe("ci-bash", host_programs=("/usr/bin/bash",)),
    Recipe("ci-dropbear", host_programs=("/usr/sbin/dropbear", "/usr/bin/dropbearkey")),
    Recipe("ci-ostree", host_programs=("/usr/bin/ostree",)),
    Recipe(
        "ci-rpm",
        host_programs=("/usr/bin/rpm",),
        host_files=("/usr/lib/rpm/rpmrc", "/usr/lib/rpm/macros", "/usr/lib/rpm/platform/x86_64-linux/macros"),
    ),
    Recipe("ci-rsync", host_programs=("/usr/bin/rsync",)),
    Recipe("ci-util-linux", host_programs=("/usr/bin/flock",)),
    Recipe("ci-hello", application=True),
    Recipe("ci-calc", application=True),
)


def recipe(name: str) -> Recipe:
    """The recipe of the package called ``name``; KeyError if the OS has none."""
    for candidate in RECIPES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def tarball_members(package: Recipe, busybox: Path, kernel: HostKernel) -> dict[str, Path | bytes]:
    """Name in the tarball -> file or content, for ``package``'s Source0."""
    members: dict[str, Path | bytes] = {
        str(path.relative_to(package.directory / "files")): path
        for path in sorted((package.directory / "files").rglob("*"))
        if path.is_file()
    }
    if package.name in {"ci-busybox", "ci-kernel"}:
        members["busybox"] = busybox
    if package.name == "ci-kernel":
        members["vmlinuz"] = kernel.vmlinuz
        members["kver"] = f"{kernel.release}\n".encode()
        load_order = "".join(f"{module.name.split('.ko')[0]}\n" for module in kernel.modules)
        members["modules/load.order"] = load_order.encode()
        members.update({f"modules/{module.name}": module for module in kernel.modules})
    if package.host_programs:
        members.update(closure_members(package.host_programs, package.host_files))
        members["check-closure"] = CHECK_SCRIPT
    return members
