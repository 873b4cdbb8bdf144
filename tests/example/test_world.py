"""Tests of the world layout and of the arguments push_change refuses (no build needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.config import load_config
from ci_pipeline.errors import UsageError
from ci_pipeline.example.world import push_change, world_at


def test_the_url_templates_reach_the_world(tmp_path: Path) -> None:
    world = world_at(tmp_path / "world")
    distgit = world.distgit_url.format(namespace="rpms", repo="ci-hello")
    assert distgit == f"file://{tmp_path}/world/git/rpms/ci-hello.git"
    assert distgit == f"file://{world.distgit_repo('ci-hello')}"
    lookaside = world.lookaside_url.format(
        namespace="rpms", repo="ci-hello", filename="f.tar.gz", hashtype="sha512", hash="ab"
    )
    assert lookaside == f"file://{world.lookaside_dir}/rpms/ci-hello/f.tar.gz/sha512/ab/f.tar.gz"


def test_the_default_configuration_points_at_a_world_under_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    loaded = load_config(environ={"CI_PIPELINE_STATE_DIR": str(state)})
    world = world_at(state / "world")
    assert loaded.distgit.url == world.distgit_url
    assert loaded.lookaside.url == world.lookaside_url


def test_the_world_names_its_packages_and_applications(tmp_path: Path) -> None:
    world = world_at(tmp_path)
    assert world.packages == (
        "ci-filesystem", "ci-busybox", "ci-kernel", "ci-cloud-init", "ci-bash", "ci-dropbear",
        "ci-ostree", "ci-rpm", "ci-rsync", "ci-util-linux", "ci-hello", "ci-calc",
    )
    assert world.applications == ("ci-hello", "ci-calc")
    assert world.ref == "fedora/f26/x86_64/atomic-host"
    assert world.tests_repo == tmp_path.resolve() / "git" / "tests" / "atomic-host-tests.git"


@pytest.mark.parametrize(
    ("package", "branch", "break_tests", "message"),
    [
        ("vim", "f26", False, "has no package 'vim'"),
        ("ci-hello", "../f26", False, "not a branch name"),
        ("ci-hello", "-f26", False, "not a branch name"),
        ("ci-kernel", "f26", True, "no functional tests to break"),
    ],
)
def test_push_change_refuses_wrong_arguments(
    tmp_path: Path, package: str, branch: str, break_tests: bool, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        push_change(world_at(tmp_path), package, branch=branch, break_tests=break_tests)
