"""Build the example packages with rpmbuild and publish them with createrepo_c.

This is the world builder's own small build, used to fill the base repository before any CI run;
the pipeline's build stage has its own.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ci_pipeline.branches import dist_tag
from ci_pipeline.config import PipelineConfig
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

#: The example OS is Fedora 26 (dist-git branch f26): its base repository carries that branch's dist tag.
DIST = dist_tag("f26", PipelineConfig().rawhide)


def rpmbuild(
    spec: Path, sources: Iterable[Path], topdir: Path, *, mode: str = "-bb", dist: str = DIST
) -> Path:
    """Build ``spec`` in a fresh ``topdir`` from ``sources``; return the rpmbuild log."""
    for sub in ("SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
        (topdir / sub).mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, topdir / "SOURCES" / source.name)
    spec_copy = topdir / "SPECS" / spec.name
    shutil.copyfile(spec, spec_copy)
    build_log = topdir / "rpmbuild.log"
    command = [
        "rpmbuild", mode,
        "--define", f"_topdir {topdir}",
        "--define", f"dist {dist}",
        str(spec_copy),
    ]
    log.debug("building %s", spec.name)
    try:
        with build_log.open("w") as output:
            done = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    except FileNotFoundError as exc:
        raise InfrastructureError("rpmbuild is not installed; run scripts/setup.sh.") from exc
    if done.returncode != 0:
        tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-15:])
        raise InfrastructureError(f"rpmbuild of {spec.name} failed (log {build_log}):\n{tail}")
    return build_log


def built_rpms(topdir: Path) -> list[Path]:
    """The binary RPMs an rpmbuild in ``topdir`` produced."""
    return sorted((topdir / "RPMS").glob("*/*.rpm"))


def createrepo(directory: Path) -> Path:
    """(Re)write the yum repository metadata of ``directory``; return its repodata folder."""
    try:
        command = ["createrepo_c", "--quiet", "--update", str(directory)]
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise InfrastructureError("createrepo_c is not installed; run scripts/setup.sh.") from exc
    except subprocess.CalledProcessError as exc:
        raise InfrastructureError(f"createrepo_c failed on {directory}: {exc.stderr.strip()}") from exc
    return directory / "repodata"
