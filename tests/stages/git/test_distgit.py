"""Fetching dist-git at a commit, with git against local bare repositories."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.git.distgit import clone_source, distgit_url, fetch_distgit
from ci_pipeline.stages.tools import Deadline

if TYPE_CHECKING:
    from conftest import PackageWorld


def test_distgit_url_fills_the_template() -> None:
    assert distgit_url("https://src.example/{namespace}/{repo}.git", "rpms", "vim") == (
        "https://src.example/rpms/vim.git"
    )


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("file:///srv/git/rpms/vim.git", "/srv/git/rpms/vim.git"),
        ("file:///srv/a%20b.git", "/srv/a b.git"),
        ("https://src.example/rpms/vim.git", "https://src.example/rpms/vim.git"),
        ("/srv/vim.git", "/srv/vim.git"),
        ("file://otherhost/srv/vim.git", "file://otherhost/srv/vim.git"),
    ],
)
def test_clone_source_turns_local_file_urls_into_paths(url: str, source: str) -> None:
    assert clone_source(url) == source


@pytest.mark.parametrize("short", [False, True])
def test_fetch_checks_out_the_rev_and_counts_commits(
    package_world: Callable[..., PackageWorld], tmp_path: Path, short: bool
) -> None:
    world = package_world(extra_commits=4)
    url = distgit_url(world.distgit_url, "rpms", world.repo)
    rev = world.rev[:7] if short else world.rev
    checkout = fetch_distgit(url, rev, tmp_path / "co", tmp_path / "log", Deadline(60))
    assert checkout.commit == world.rev
    assert checkout.commit_count == 5
    assert (checkout.path / "hello.spec").is_file()
    assert (
        f"git clone --quiet --no-checkout -- {url.removeprefix('file://')} " in (tmp_path / "log").read_text()
    )


def test_fetch_an_older_rev_counts_up_to_it(
    package_world: Callable[..., PackageWorld], tmp_path: Path
) -> None:
    world = package_world(extra_commits=3)
    url = distgit_url(world.distgit_url, "rpms", world.repo)
    newest = fetch_distgit(url, world.rev, tmp_path / "new", tmp_path / "log", Deadline(60))
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"],
        cwd=newest.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    oldest = fetch_distgit(url, first, tmp_path / "old", tmp_path / "log", Deadline(60))
    assert (oldest.commit, oldest.commit_count) == (first, 1)
    assert not (oldest.path / "hello.spec").exists()


def test_nonexistent_rev_is_a_stage_failure(
    package_world: Callable[..., PackageWorld], tmp_path: Path
) -> None:
    world = package_world()
    url = distgit_url(world.distgit_url, "rpms", world.repo)
    with pytest.raises(StageFailure, match=f"The commit {'d' * 40} does not exist in {url}"):
        fetch_distgit(url, "d" * 40, tmp_path / "co", tmp_path / "log", Deadline(60))


def test_unreachable_distgit_is_an_infrastructure_error(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/missing.git"
    with pytest.raises(InfrastructureError, match=f"The dist-git repository {url} cannot be reached: "):
        fetch_distgit(url, "d" * 40, tmp_path / "co", tmp_path / "log", Deadline(60))
