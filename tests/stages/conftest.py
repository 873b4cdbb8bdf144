"""Small dist-git worlds for the build stage: a bare git repository with a tiny spec whose %check runs,
and a Fedora-form lookaside directory holding its one source tarball."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_pipeline.config import ArtifactsConfig, Config, DistGitConfig, LookasideConfig
from ci_pipeline.stages.base import StageContext

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Packager",
    "GIT_AUTHOR_EMAIL": "packager@example.org",
    "GIT_COMMITTER_NAME": "Packager",
    "GIT_COMMITTER_EMAIL": "packager@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}

SPEC_TEMPLATE = """\
Name:           {name}
Version:        1.0
Release:        {release}
Summary:        Says hello
License:        MIT
BuildArch:      noarch
Source0:        {name}-1.0.tar.gz
BuildRequires:  coreutils

%description
Says hello, and checks that it does.

%prep
%setup -q

%build

%install
install -D -m 0755 greet %{{buildroot}}%{{_bindir}}/{name}

%check
test "$(sh ./greet)" = "{expected}"

%files
%{{_bindir}}/{name}

%changelog
"""


@dataclass(frozen=True)
class PackageWorld:
    """A dist-git repository and lookaside cache holding one package, and how to reach them."""

    root: Path
    repo: str
    rev: str
    commit_count: int
    distgit_url: str
    lookaside_url: str
    source_name: str
    source_sha512: str


def _git(args: list[str], cwd: Path) -> str:
    env = {**os.environ, **GIT_IDENTITY}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _tarball(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"#!/bin/sh\necho hello\n"
        info = tarfile.TarInfo(f"{name}-1.0/greet")
        info.size, info.mode, info.mtime = len(data), 0o755, 1_500_000_000
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def create_package_world(
    root: Path,
    repo: str = "hello",
    *,
    check_passes: bool = True,
    with_spec: bool = True,
    release: str = "1%{?dist}",
    sources_line: str | None = None,
    extra_commits: int = 2,
) -> PackageWorld:
    """Make ``root/git/rpms/<repo>.git`` and ``root/lookaside/rpms/<repo>/...`` for one package."""
    tarball = _tarball(repo)
    source_name = f"{repo}-1.0.tar.gz"
    sha512 = hashlib.sha512(tarball).hexdigest()
    cache = root / "lookaside" / "rpms" / repo / source_name / "sha512" / sha512
    cache.mkdir(parents=True, exist_ok=True)
    (cache / source_name).write_bytes(tarball)
    bare = root / "git" / "rpms" / f"{repo}.git"
    bare.mkdir(parents=True)
    _git(["init", "--quiet", "--bare", "--initial-branch=master", str(bare)], root)
    work = root / "work" / repo
    work.mkdir(parents=True)
    _git(["init", "--quiet", "--initial-branch=master"], work)
    for number in range(extra_commits):
        (work / "README").write_text(f"revision {number}\n")
        _git(["add", "README"], work)
        _git(["commit", "--quiet", "-m", f"Revision {number}"], work)
    if with_spec:
        expected = "hello" if check_passes else "goodbye"
        (work / f"{repo}.spec").write_text(
            SPEC_TEMPLATE.format(name=repo, release=release, expected=expected)
        )
    (work / "sources").write_text((sources_line or f"SHA512 ({source_name}) = {sha512}") + "\n")
    _git(["add", "--all"], work)
    _git(["commit", "--quiet", "-m", "Package it"], work)
    _git(["push", "--quiet", str(bare), "HEAD:master"], work)
    return PackageWorld(
        root=root,
        repo=repo,
        rev=_git(["rev-parse", "HEAD"], work),
        commit_count=extra_commits + 1,
        distgit_url=f"file://{root}/git/{{namespace}}/{{repo}}.git",
        lookaside_url=f"file://{root}/lookaside/{{namespace}}/{{repo}}/{{filename}}/{{hashtype}}/{{hash}}/{{filename}}",
        source_name=source_name,
        source_sha512=sha512,
    )


def build_config(root: Path, world: PackageWorld) -> Config:
    """A configuration pointing the build stage at ``world``, with artifacts under ``root``."""
    return Config(state_dir=str(root / "state")).model_copy(
        update={
            "distgit": DistGitConfig(url=world.distgit_url),
            "lookaside": LookasideConfig(url=world.lookaside_url),
            "artifacts": ArtifactsConfig(
                root=str(root / "artifacts"), base_url="http://artifacts.example/ci"
            ),
        }
    )


def build_context(root: Path, config: Config, fields: Mapping[str, str], attempt: int = 1) -> StageContext:
    """A build stage context for ``fields`` with a fresh work directory under ``root``."""
    workdir = root / f"work-{attempt}"
    workdir.mkdir(parents=True)
    return StageContext(
        run_id=1,
        stage="build",
        attempt=attempt,
        fields=dict(fields),
        workdir=workdir,
        artifacts_dir=root / "stage-artifacts",
        artifacts_url="http://artifacts.example/ci/runs/1/build",
        log_path=root / f"build-{attempt}.log",
        config=config,
        timeout=300.0,
    )


def fields_of(world: PackageWorld, branch: str = "f26") -> dict[str, str]:
    """The run fields a trigger would hand over for the world's one change."""
    return {"repo": world.repo, "rev": world.rev, "branch": branch, "namespace": "rpms"}


@pytest.fixture
def package_world(tmp_path: Path) -> Callable[..., PackageWorld]:
    """A factory of package worlds under the test's temporary directory."""

    def make(**options: object) -> PackageWorld:
        return create_package_world(tmp_path / "world", **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def stage_context(tmp_path: Path) -> Callable[..., StageContext]:
    """A factory of build stage contexts for a world: ``stage_context(world, branch=..., **fields)``."""
    attempts = iter(range(1, 1000))

    def make(world: PackageWorld, branch: str = "f26", **fields: str) -> StageContext:
        config = build_config(tmp_path, world)
        return build_context(tmp_path, config, {**fields_of(world, branch), **fields}, next(attempts))

    return make
