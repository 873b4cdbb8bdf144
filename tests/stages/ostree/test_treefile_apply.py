"""Applying treefile keys to a root: never a path outside it, every unapplied key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.ostree.treefile_apply import add_files, enable_units, remove_files, report_keys
from ci_pipeline.treefile import Treefile, load_treefile


def _treefile(tmp_path: Path, **keys: object) -> Treefile:
    path = tmp_path / "treefile" / "t.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"ref": "a/b", **keys}))
    return load_treefile(path)


def test_a_path_through_a_link_out_of_the_root_is_refused(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "precious").write_text("keep")
    root = tmp_path / "root"
    (root / "usr").mkdir(parents=True)
    (root / "usr/share").symlink_to(host)
    with pytest.raises(StageFailure, match="leads out of the composed tree"):
        remove_files(_treefile(tmp_path, **{"remove-files": ["usr/share/precious"]}), root, tmp_path / "log")
    (tmp_path / "treefile").mkdir(exist_ok=True)
    (tmp_path / "treefile" / "motd").write_text("hi")
    with pytest.raises(StageFailure, match="leads out"):
        add_files(
            _treefile(tmp_path, **{"add-files": [["motd", "/usr/share/precious"]]}), root, tmp_path / "log"
        )
    assert (host / "precious").read_text() == "keep"


def test_units_and_default_target_become_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system/getty@.service").write_text("")
    treefile = _treefile(
        tmp_path, units=["getty@tty1.service", "gone.service"], **{"default-target": "x.target"}
    )
    enable_units(treefile, root, tmp_path / "log")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert str((wants / "getty@tty1.service").readlink()) == "/usr/lib/systemd/system/getty@tty1.service"
    assert str((root / "etc/systemd/system/default.target").readlink()) == "/usr/lib/systemd/system/x.target"
    log = (tmp_path / "log").read_text()
    assert (
        "gone.service is enabled but no package installs" in log
        and "getty@tty1.service is enabled but" not in log
    )


def test_report_names_each_unapplied_key_once(tmp_path: Path) -> None:
    treefile = _treefile(tmp_path, frobnicate=1, rojig={"name": "x"}, **{"initramfs-args": ["--no-hostonly"]})
    assert (
        report_keys(treefile, tmp_path / "log") == " Treefile keys not applied: frobnicate, initramfs-args."
    )
    log = (tmp_path / "log").read_text()
    assert log.count("'initramfs-args' not applied: the initramfs is ci-pipeline's busybox initramfs") == 1
    assert "key 'rojig' ignored" in log
    assert report_keys(_treefile(tmp_path), tmp_path / "log2") == ""
