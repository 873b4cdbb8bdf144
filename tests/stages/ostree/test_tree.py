"""The OSTree shape a compose gives an installed root."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.ostree.tree import prepare_tree


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
