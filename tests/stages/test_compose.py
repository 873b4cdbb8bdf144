"""Unit tests of the compose stage's pure parts: treefile, dnf command, tree shape, package lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import compose
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.branch_artifacts import BranchArtifacts, checked_branch, checked_nvr
from ci_pipeline.stages.compose_builds import ComposeBuild
from ci_pipeline.stages.compose_install import ci_packages, dnf_command, releasever, write_package_lists
from ci_pipeline.stages.ostree_tree import prepare_tree
from ci_pipeline.stages.treefile import load_treefile, parse_treefile

REF = "fedora/f26/x86_64/atomic-host"


def _context(tmp_path: Path, fields: dict[str, str], treefile: str = "") -> StageContext:
    config = Config(
        artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url="http://a.test/x"),
        trigger=TriggerConfig(treefile=treefile),
    )
    (tmp_path / "work").mkdir(exist_ok=True)
    return StageContext(
        run_id=1,
        stage="compose",
        attempt=1,
        fields=fields,
        workdir=tmp_path / "work",
        artifacts_dir=tmp_path / "out",
        artifacts_url="http://a.test/run",
        log_path=tmp_path / "log",
        config=config,
    )


def test_treefile_with_include_adds_lists_and_overrides_scalars(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(json.dumps({"ref": "a/b", "repos": ["base"], "packages": ["x y"]}))
    (tmp_path / "tree.json").write_text(json.dumps({"include": "base.json", "ref": REF, "packages": ["z"]}))
    treefile = load_treefile(tmp_path / "tree.json")
    assert treefile.ref == REF
    assert treefile.repos == ("base",)
    assert treefile.packages == ("x", "y", "z")
    assert treefile.repos_dirs == (tmp_path, tmp_path / "repos")


@pytest.mark.parametrize(
    "data",
    [[], {"ref": "../escape"}, {"ref": REF, "packages": "vim"}, {"ref": REF, "repos": ["a;rm -rf /"]}, {}],
)
def test_bad_treefiles_are_refused(data: object, tmp_path: Path) -> None:
    with pytest.raises(StageFailure):
        parse_treefile(data, tmp_path / "t.json")


def test_missing_treefile_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match=r"trigger\.treefile"):
        load_treefile(tmp_path / "nope.json")


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.lists(st.text(max_size=10)))))
def test_treefile_parser_accepts_or_refuses_cleanly(data: dict[str, object]) -> None:
    try:
        treefile = parse_treefile({"ref": REF, **data}, Path("/t.json"))
    except StageFailure:
        return
    assert all(" " not in name and name for name in treefile.packages)


def test_compose_without_treefile_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="No treefile"):
        compose.run(_context(tmp_path, {"branch": "f26"}))


@pytest.mark.parametrize("branch", ["", "../x", "f26/../../etc", "-rf", "a b"])
def test_unsafe_branches_are_refused(branch: str) -> None:
    with pytest.raises(StageFailure):
        checked_branch({"branch": branch})


def test_nvr_needs_three_parts() -> None:
    assert checked_nvr({"nvr": "vim-7.4.160-1.200.591b0d2.fc26"}) == "vim-7.4.160-1.200.591b0d2.fc26"
    with pytest.raises(StageFailure):
        checked_nvr({"nvr": "vim-7.4"})


def test_releasever_follows_the_branch(tmp_path: Path) -> None:
    assert releasever(_context(tmp_path, {"branch": "f26"})) == "26"
    assert releasever(_context(tmp_path, {"branch": "master"})) == "27"


def test_dnf_command_enables_treefile_repos_and_the_given_ci_builds(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(json.dumps({"ref": REF, "repos": ["fedora-26"], "packages": ["a"]}))
    ctx = _context(tmp_path, {"branch": "f26"}, str(tmp_path / "t.json"))
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


def test_ci_packages_ignore_source_and_subpackages(tmp_path: Path) -> None:
    build = ComposeBuild(name="vim", url="http://a.test/x/runs/1/build/repo/", path=tmp_path / "repo")
    build.path.mkdir()
    for name in ("vim-7.4-1.fc26.src.rpm", "vim-minimal-7.4-1.fc26.x86_64.rpm"):
        (build.path / name).write_bytes(b"")
    assert ci_packages(build) == []
    (build.path / "vim-7.4-1.fc26.x86_64.rpm").write_bytes(b"")
    assert ci_packages(build) == ["vim"]


def test_prepare_tree_gives_the_ostree_shape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for path in ("usr/bin", "etc", "var/lib/rpm", "var/lib/app", "var/log", "boot", "bin"):
        (root / path).mkdir(parents=True)
    (root / "bin/tool").write_text("x")
    (root / "etc/app.conf").write_text("x")
    (root / "var/lib/rpm/rpmdb.sqlite").write_text("db")
    (root / "boot/vmlinuz-6.1.0").write_text("kernel")
    prepare_tree(root)
    assert (root / "usr/lib/modules/6.1.0/vmlinuz").read_text() == "kernel"
    assert list((root / "boot").iterdir()) == [] and list((root / "var").iterdir()) == []
    assert (root / "bin").is_symlink() and (root / "usr/bin/tool").is_file()
    assert (root / "usr/etc/app.conf").is_file() and not (root / "etc").exists()
    assert (root / "usr/share/rpm/rpmdb.sqlite").is_file()
    autovar = (root / "usr/lib/tmpfiles.d/ci-pipeline-autovar.conf").read_text()
    assert "d /var/lib/app 0755 " in autovar and "L /var/lib/rpm" in autovar
    assert (root / "home").readlink() == Path("var/home")


def test_prepare_tree_refuses_a_package_owning_usr_etc(tmp_path: Path) -> None:
    (tmp_path / "usr/etc").mkdir(parents=True)
    with pytest.raises(StageFailure, match="/usr/etc"):
        prepare_tree(tmp_path)


def test_package_lists_diff_against_the_parent(tmp_path: Path) -> None:
    cache, first_out, second_out = tmp_path / "cache", tmp_path / "one", tmp_path / "two"
    write_package_lists([("a-1-1.noarch", "a-1-1.src.rpm")], "c1", None, cache, first_out)
    write_package_lists([("a-1-2.noarch", "a-1-2.src.rpm")], "c2", "c1", cache, second_out)
    diff = (second_out / "packages.diff").read_text()
    assert "-a-1-1.noarch" in diff and "+a-1-2.noarch" in diff
    assert (second_out / "packages.txt").read_text() == "a-1-2.noarch\n"
