"""Finding a tree's rpm database."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.stages.sti.packages import RPMDB_PATHS, missing_packages, rpmdb_path


@pytest.mark.parametrize(
    ("relative", "name"), [(p, n) for p in RPMDB_PATHS for n in ("rpmdb.sqlite", "Packages")]
)
def test_the_rpm_database_is_found_where_trees_keep_it(tmp_path: Path, relative: str, name: str) -> None:
    (tmp_path / relative).mkdir(parents=True)
    assert rpmdb_path(tmp_path) is None
    (tmp_path / relative / name).write_bytes(b"")
    assert rpmdb_path(tmp_path) == "/" + relative


def test_an_ostree_database_comes_before_the_var_link(tmp_path: Path) -> None:
    for relative in ("usr/share/rpm", "var/lib/rpm"):
        (tmp_path / relative).mkdir(parents=True)
        (tmp_path / relative / "rpmdb.sqlite").write_bytes(b"")
    assert rpmdb_path(tmp_path) == "/usr/share/rpm"


def test_a_tree_without_a_database_cannot_be_asked(tmp_path: Path) -> None:
    assert missing_packages(tmp_path, ["bash"]) is None
