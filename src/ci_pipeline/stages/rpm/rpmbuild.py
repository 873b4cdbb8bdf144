"""Running rpmbuild (or mock, where it is installed and configured) on a marked spec.

The build host is not assumed to be an RPM system (it may be Debian), so rpmbuild runs with
``--nodeps``: BuildRequires are resolved only by mock, whose chroot is the clean-room build.
``%check`` runs in both, and its failure is told apart from a failing ``%build``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.logtail import log_tail
from ci_pipeline.stages.base import run_tool
from ci_pipeline.stages.tools import Deadline

#: What rpmbuild prints when a section's script fails: ``Bad exit status from ... (%check)``.
CHECK_FAILED_MARK = "(%check)"


@dataclass(frozen=True)
class BuiltPackages:
    """The files one build produced."""

    srpm: Path
    rpms: tuple[Path, ...]


def rpmbuild_argv(
    mode: str, spec: Path, sourcedir: Path, topdir: Path, macros: Mapping[str, str]
) -> list[str]:
    """The rpmbuild command for ``mode`` (``-ba``, ``-bs``) with everything kept under ``topdir``."""
    argv = ["rpmbuild", mode, "--nodeps", "--define", f"_topdir {topdir}"]
    argv += ["--define", f"_sourcedir {sourcedir}"]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    return [*argv, str(spec)]


def binary_rpm_name(filename: str) -> str:
    """The package name of an RPM file name: ``vim-enhanced-7.4-1.fc26.x86_64.rpm`` -> ``vim-enhanced``."""
    stem = filename.removesuffix(".rpm").rsplit(".", 1)[0]
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{filename!r} is not an RPM file name (name-version-release.arch.rpm)")
    return parts[0]


def _log_since(log_path: Path, offset: int) -> str:
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _log_size(log_path: Path) -> int:
    return log_path.stat().st_size if log_path.exists() else 0


def _collect(topdir: Path, srpm_dir: Path) -> BuiltPackages:
    srpms = sorted(srpm_dir.glob("*.src.rpm"))
    rpms = tuple(sorted(p for p in topdir.rglob("*.rpm") if not p.name.endswith(".src.rpm")))
    if len(srpms) != 1 or not rpms:
        raise StageFailure(
            f"The build made {len(srpms)} source and {len(rpms)} binary RPMs, "
            "not one source RPM and at least one binary RPM."
        )
    return BuiltPackages(srpms[0], rpms)


def _raise_build_failure(nvr: str, output: str, log_path: Path, cause: StageFailure) -> None:
    if CHECK_FAILED_MARK in output:
        raise StageFailure(f"The unit tests (%check) of {nvr} failed.\n{log_tail(log_path)}") from cause
    raise StageFailure(f"The build of {nvr} failed.\n{log_tail(log_path)}") from cause


def build_with_rpmbuild(
    spec: Path,
    sourcedir: Path,
    topdir: Path,
    macros: Mapping[str, str],
    nvr: str,
    log_path: Path,
    deadline: Deadline,
) -> BuiltPackages:
    """Build the source and binary RPMs of ``spec`` with one ``rpmbuild -ba``, running ``%check``."""
    start = _log_size(log_path)
    try:
        argv = rpmbuild_argv("-ba", spec, sourcedir, topdir, macros)
        run_tool(argv, log_path, timeout=deadline.remaining())
    except StageFailure as exc:
        _raise_build_failure(nvr, _log_since(log_path, start), log_path, exc)
    return _collect(topdir / "RPMS", topdir / "SRPMS")


def build_with_mock(
    mock_config: str,
    spec: Path,
    sourcedir: Path,
    topdir: Path,
    macros: Mapping[str, str],
    nvr: str,
    log_path: Path,
    deadline: Deadline,
) -> BuiltPackages:
    """Build the SRPM with rpmbuild, then rebuild it in a mock chroot of ``mock_config``."""
    run_tool(
        rpmbuild_argv("-bs", spec, sourcedir, topdir, macros),
        log_path,
        timeout=deadline.remaining(),
        failure=f"The source RPM of {nvr} cannot be built",
    )
    srpm = _collect_srpm(topdir / "SRPMS")
    results = topdir / "mock-results"
    argv = ["mock", "--root", mock_config, "--resultdir", str(results)]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    try:
        run_tool([*argv, "--rebuild", str(srpm)], log_path, timeout=deadline.remaining())
    except StageFailure as exc:
        build_log = results / "build.log"
        output = build_log.read_text(errors="replace") if build_log.exists() else ""
        _raise_build_failure(nvr, output, build_log if output else log_path, exc)
    built = _collect(results, topdir / "SRPMS")
    return BuiltPackages(srpm, built.rpms)


def _collect_srpm(srpm_dir: Path) -> Path:
    srpms = sorted(srpm_dir.glob("*.src.rpm"))
    if len(srpms) != 1:
        raise StageFailure(f"rpmbuild -bs made {len(srpms)} source RPMs instead of one.")
    return srpms[0]


def build_packages(
    spec: Path,
    sourcedir: Path,
    topdir: Path,
    macros: Mapping[str, str],
    nvr: str,
    log_path: Path,
    deadline: Deadline,
    mock_config: str = "",
) -> BuiltPackages:
    """Build with mock when it is installed and ``mock_config`` is given, else with rpmbuild."""
    if mock_config and shutil.which("mock"):
        return build_with_mock(mock_config, spec, sourcedir, topdir, macros, nvr, log_path, deadline)
    return build_with_rpmbuild(spec, sourcedir, topdir, macros, nvr, log_path, deadline)
