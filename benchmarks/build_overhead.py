"""Build stage overhead: the whole stage against its rpmbuild and createrepo_c commands run bare.

For each package, alternately (to spread machine noise evenly):
  stage  ci_pipeline.stages.build.run(ctx), in this process, fresh work directory each time:
         git clone + rev-list, lookaside fetch + checksum, rpmspec queries, rpmbuild -ba (%check runs),
         createrepo_c into a staging directory and the rename into place;
  bare   the very same ``rpmbuild -ba`` command line (same macros, same sources, fresh _topdir) and
         ``createrepo_c`` on a directory of the RPMs it made, nothing else.
Prints the median wall time of each, and their ratio (the goal is a ratio <= 1.10).

Packages: the example OS's (ci_pipeline.example.world.create_world) when it is importable, else two
fixture packages made here: a C program compiled with gcc and a noarch shell script, both with %check.

Usage: python benchmarks/build_overhead.py [--repetitions 5] [--fixtures] [--packages ci-hello,ci-calc]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.branches import branch_release
from ci_pipeline.config import ArtifactsConfig, Config, DistGitConfig, LookasideConfig
from ci_pipeline.stages import build
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.rpm.rpmbuild import rpmbuild_argv
from ci_pipeline.stages.rpm.specfile import release_mark

BRANCH = "f26"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.org",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.org",
}

C_SPEC = """Name: {name}
Version: 1.0
Release: 1%{{?dist}}
Summary: bench
License: MIT
Source0: {name}-1.0.tar.gz
%description
bench
%prep
%setup -q
%build
gcc -O2 -g -o {name} main.c
%install
install -D -m 0755 {name} %{{buildroot}}%{{_bindir}}/{name}
%check
test "$(./{name})" = "hello 42"
%files
%{{_bindir}}/{name}
%changelog
"""
C_MAIN = b'#include <stdio.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 0; }\n'
SHELL_SPEC = (
    C_SPEC.replace("gcc -O2 -g -o {name} main.c", "cp main.sh {name}")
    .replace("Source0:", "BuildArch: noarch\nSource0:")
    .replace('"$(./{name})"', '"$(sh ./{name})"')
)
SHELL_MAIN = b"#!/bin/sh\necho hello 42\n"


@dataclass(frozen=True)
class Package:
    """A package to build: its dist-git and lookaside templates and the commit to build."""

    name: str
    rev: str
    distgit_url: str
    lookaside_url: str


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def fixture_package(root: Path, name: str, spec: str, member: str, content: bytes) -> Package:
    """A dist-git repository and lookaside cache for one small package."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{name}-1.0/{member}")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    tarball, filename = buffer.getvalue(), f"{name}-1.0.tar.gz"
    digest = hashlib.sha512(tarball).hexdigest()
    cache = root / "lookaside" / "rpms" / name / filename / "sha512" / digest
    cache.mkdir(parents=True)
    (cache / filename).write_bytes(tarball)
    work = root / "work" / name
    work.mkdir(parents=True)
    _git("init", "-q", "-b", "master", cwd=work)
    (work / f"{name}.spec").write_text(spec.format(name=name))
    (work / "sources").write_text(f"SHA512 ({filename}) = {digest}\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "package", cwd=work)
    _git("clone", "-q", "--bare", str(work), str(root / "git" / "rpms" / f"{name}.git"), cwd=root)
    return Package(
        name,
        _git("rev-parse", "HEAD", cwd=work),
        f"file://{root}/git/{{namespace}}/{{repo}}.git",
        f"file://{root}/lookaside/{{namespace}}/{{repo}}/{{filename}}/{{hashtype}}/{{hash}}/{{filename}}",
    )


def fixture_packages(root: Path) -> list[Package]:
    """The benchmark's own packages: one compiled with gcc, one noarch."""
    return [
        fixture_package(root, "bench-c", C_SPEC, "main.c", C_MAIN),
        fixture_package(root, "bench-sh", SHELL_SPEC, "main.sh", SHELL_MAIN),
    ]


def example_packages(root: Path, wanted: list[str] | None) -> list[Package] | None:
    """The example OS's packages at the head of their f26 branch, or None without the example world."""
    try:
        from ci_pipeline.example.world import create_world
    except ImportError:
        return None
    world = create_world(root / "example")
    names = wanted or list(world.packages)
    return [
        Package(
            name,
            _git("rev-parse", BRANCH, cwd=world.distgit_repo(name)),
            world.distgit_url,
            world.lookaside_url,
        )
        for name in names
    ]


def stage_context(root: Path, package: Package, attempt: int) -> StageContext:
    """A fresh build stage context for ``package``."""
    config = Config(state_dir=str(root / "state")).model_copy(
        update={
            "distgit": DistGitConfig(url=package.distgit_url),
            "lookaside": LookasideConfig(url=package.lookaside_url),
            "artifacts": ArtifactsConfig(root=str(root / "artifacts"), base_url="http://bench.invalid"),
        }
    )
    workdir = root / "runs" / f"{package.name}-{attempt}"
    workdir.mkdir(parents=True)
    fields = {"repo": package.name, "rev": package.rev, "branch": BRANCH, "namespace": "rpms"}
    return StageContext(
        run_id=attempt,
        stage="build",
        attempt=1,
        fields=fields,
        workdir=workdir,
        artifacts_dir=workdir / "artifacts",
        artifacts_url="",
        log_path=workdir / "build.log",
        config=config,
    )


def time_stage(root: Path, package: Package, attempt: int) -> tuple[float, StageContext]:
    """Seconds the whole build stage takes for ``package``."""
    ctx = stage_context(root, package, attempt)
    started = time.perf_counter()
    build.run(ctx)
    return time.perf_counter() - started, ctx


def time_bare(checkout: Path, package: Package, commit_count: int, topdir: Path) -> float:
    """Seconds the stage's own rpmbuild and createrepo_c commands take without the stage around them."""
    release = branch_release(BRANCH, Config().pipeline.rawhide)
    macros = release.macros() | {"dist": release_mark(commit_count, package.rev) + release.dist_tag}
    argv = rpmbuild_argv("-ba", checkout / f"{package.name}.spec", checkout, topdir, macros)
    repo = topdir / "repo"
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    repo.mkdir()
    for rpm in topdir.rglob("*.rpm"):
        if rpm.parent != repo:
            os.link(rpm, repo / rpm.name)
    subprocess.run(["createrepo_c", "--quiet", str(repo)], check=True)
    return time.perf_counter() - started


def measure(root: Path, package: Package, repetitions: int) -> tuple[list[float], list[float]]:
    """Seconds of the stage and of the bare commands per repetition, after one warm-up of the stage.

    The bare commands build from the warm-up's checkout (sources fetched); the two alternate which
    goes first, so neither always finds the caches the other warmed.
    """
    _, warm = time_stage(root, package, 0)
    checkout = warm.workdir / "distgit"
    count = int(_git("rev-list", "--count", package.rev, cwd=checkout))
    stage_times, bare_times = [], []
    for attempt in range(1, repetitions + 1):
        topdir = root / "bare" / f"{package.name}-{attempt}"
        if attempt % 2:
            bare_times.append(time_bare(checkout, package, count, topdir))
            stage_times.append(time_stage(root, package, attempt)[0])
        else:
            stage_times.append(time_stage(root, package, attempt)[0])
            bare_times.append(time_bare(checkout, package, count, topdir))
    return stage_times, bare_times


def main() -> None:
    """Measure and print the overhead per package."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument(
        "--fixtures", action="store_true", help="use the fixture packages, not the example OS"
    )
    parser.add_argument("--packages", default="", help="comma-separated example OS packages (default: all)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="build-overhead-"))
    try:
        wanted = [name for name in args.packages.split(",") if name] or None
        packages = None if args.fixtures else example_packages(root, wanted)
        source = "example OS" if packages else "fixture"
        packages = packages or fixture_packages(root)
        print(
            f"build stage vs bare rpmbuild -ba + createrepo_c; {source} packages; "
            f"median of {args.repetitions} runs each after 1 warm-up; branch {BRANCH}; {os.cpu_count()} cores"
        )
        print(f"{'package':<16}{'stage s':>10}{'bare s':>10}{'ratio':>8}{'overhead s':>12}")
        all_stage, all_bare = 0.0, 0.0
        for package in packages:
            stage_times, bare_times = measure(root, package, args.repetitions)
            stage, bare = statistics.median(stage_times), statistics.median(bare_times)
            all_stage, all_bare = all_stage + stage, all_bare + bare
            print(
                f"{package.name:<16}{stage:>10.3f}{bare:>10.3f}{stage / bare:>8.3f}{stage - bare:>12.3f}",
                flush=True,
            )
        print(
            f"{'all (sum)':<16}{all_stage:>10.3f}{all_bare:>10.3f}{all_stage / all_bare:>8.3f}"
            f"{all_stage - all_bare:>12.3f}"
        )
        print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine adds noise)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
