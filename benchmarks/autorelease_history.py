"""What rpmautospec adds to a build: expanding %autorelease and %autochangelog against history length.

For each history length N, a dist-git work tree of N commits is made here (the version changes every
20 commits, as a busy Fedora package's does), then ``expand_autospec`` (rpmautospec's
``process_distgit`` on the checkout: the history walk, and librpm evaluating the spec of every
version) is timed, the median of a few repetitions. Prints the seconds per history length, and the
release it computed so that a wrong walk shows.

Usage: python benchmarks/autorelease_history.py [--commits 20,100,500] [--repetitions 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ci_pipeline.stages.rpm.autospec import expand_autospec

SPEC = """\
Name:           bench
Version:        {version}
Release:        %autorelease
Summary:        s
License:        MIT

%description
d

%files

%changelog
%autochangelog
"""
BUMP_EVERY = 20
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.org",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def make_history(work: Path, commits: int) -> Path:
    """A git work tree of ``commits`` commits whose spec's version changes every BUMP_EVERY commits."""
    subprocess.run(["git", "init", "--quiet", str(work)], check=True, env=GIT_ENV)
    spec = work / "bench.spec"
    for number in range(commits):
        spec.write_text(SPEC.format(version=f"1.{number // BUMP_EVERY}"))
        (work / "README").write_text(f"{number}\n")
        for command in (["add", "--all"], ["commit", "--quiet", "-m", f"Change {number}"]):
            subprocess.run(["git", *command], cwd=work, check=True, env=GIT_ENV)
    return spec


def time_expansion(spec: Path, target: Path, repetitions: int) -> float:
    """The median seconds of ``expand_autospec`` on ``spec``."""
    seconds = []
    for _ in range(repetitions):
        started = time.perf_counter()
        expand_autospec(spec, target)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def release_line(target: Path) -> str:
    """The release number the expanded spec's %autorelease definition holds."""
    for line in target.read_text().splitlines():
        if "release_number =" in line:
            return line.strip()
    return "(none)"


def main() -> None:
    """Time the expansion for each requested history length and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", default="20,100,500", help="comma-separated history lengths")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    print(f"{'commits':>8}{'seconds':>10}  computed")
    with tempfile.TemporaryDirectory() as scratch:
        for commits in (int(n) for n in args.commits.split(",")):
            work = Path(scratch) / f"h{commits}"
            spec = make_history(work, commits)
            target = Path(scratch) / f"h{commits}.spec"
            seconds = time_expansion(spec, target, args.repetitions)
            print(f"{commits:>8}{seconds:>10.3f}  {release_line(target)}")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine adds noise)")


if __name__ == "__main__":
    main()
