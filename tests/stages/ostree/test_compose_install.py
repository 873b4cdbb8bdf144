"""Installing a compose's packages: the dnf command, the CI packages, the release, the package lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.ostree.compose_builds import ComposeBuild
from ci_pipeline.stages.ostree.compose_install import (
    ci_packages,
    dnf_command,
    releasever,
    write_package_lists,
)
from ci_pipeline.stages.ostree.treefile import load_treefile
from stages.contexts import REF, compose_context


def test_releasever_follows_the_branch(tmp_path: Path) -> None:
    assert releasever(compose_context(tmp_path, {"branch": "f26"})) == "26"
    assert releasever(compose_context(tmp_path, {"branch": "master"})) == "27"
    assert releasever(compose_context(tmp_path, {"branch": "rawhide"})) == "27"
    assert releasever(compose_context(tmp_path, {"branch": "epel8"})) == "8"
    assert releasever(compose_context(tmp_path, {"branch": "c9s"})) == "9"


def test_a_branch_without_a_release_has_no_releasever(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="The branch private-x has no release ci-pipeline knows"):
        releasever(compose_context(tmp_path, {"branch": "private-x"}))


def test_dnf_command_enables_treefile_repos_and_the_given_ci_builds(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(
        json.dumps({"ref": REF, "repos": ["fedora-26"], "packages": ["a"], "exclude-packages": ["b"]})
    )
    (tmp_path / "fedora.repo").write_text("[fedora-26]\nbaseurl=file:///srv/fedora/26/$basearch/\n")
    ctx = compose_context(tmp_path, {"branch": "f26"}, str(tmp_path / "t.json"))
    artifacts = BranchArtifacts.of(ctx.config, ctx.fields)
    builds = []
    for name, run_id in (("vim", 1), ("broken", 2)):
        repo = tmp_path / "artifacts" / "runs" / str(run_id) / "build" / "repo"
        (repo / "repodata").mkdir(parents=True)
        builds.append(ComposeBuild(name=name, url=f"http://a.test/x/runs/{run_id}/build/repo/", path=repo))
    (builds[0].path / "vim-7.4-1.fc26.x86_64.rpm").write_bytes(b"")
    # Another build's repository of the branch that nobody chose stays out of the compose.
    (artifacts.root / "repo" / "other_repo" / "repodata").mkdir(parents=True)
    treefile = load_treefile(tmp_path / "t.json")
    argv, packages = dnf_command(ctx, artifacts, treefile, tmp_path / "root", builds)
    assert "--enablerepo=fedora-26" in argv and "--disablerepo=*" in argv
    assert f"--repofrompath=ci-vim,{builds[0].path.as_uri()}" in argv
    assert "--enablerepo=ci-broken" in argv
    assert not any("other" in option for option in argv)
    assert packages == ["a", "vim"]
    assert "--exclude=b" in argv and "--releasever=26" in argv
    # rpm-ostree's defaults: documentation and weak dependencies are installed.
    assert "--setopt=install_weak_deps=True" in argv and "--setopt=tsflags=nodocs" not in argv


def test_ci_packages_ignore_source_and_subpackages(tmp_path: Path) -> None:
    build = ComposeBuild(name="vim", url="http://a.test/x/runs/1/build/repo/", path=tmp_path / "repo")
    build.path.mkdir()
    for name in ("vim-7.4-1.fc26.src.rpm", "vim-minimal-7.4-1.fc26.x86_64.rpm"):
        (build.path / name).write_bytes(b"")
    assert ci_packages(build) == []
    (build.path / "vim-7.4-1.fc26.x86_64.rpm").write_bytes(b"")
    assert ci_packages(build) == ["vim"]


def test_package_lists_diff_against_the_parent(tmp_path: Path) -> None:
    cache, first_out, second_out = tmp_path / "cache", tmp_path / "one", tmp_path / "two"
    write_package_lists([("a-1-1.noarch", "a-1-1.src.rpm")], "c1", None, cache, first_out)
    write_package_lists([("a-1-2.noarch", "a-1-2.src.rpm")], "c2", "c1", cache, second_out)
    diff = (second_out / "packages.diff").read_text()
    assert "-a-1-1.noarch" in diff and "+a-1-2.noarch" in diff
    assert (second_out / "packages.txt").read_text() == "a-1-2.noarch\n"
