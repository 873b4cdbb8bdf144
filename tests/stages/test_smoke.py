"""Unit tests of the smoke stage: the latest link (the stage itself runs in tests/integration)."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.stages.qemu.bootdisk import LATEST
from ci_pipeline.stages.smoke import point_latest


def test_latest_link_is_replaced(tmp_path: Path) -> None:
    point_latest(tmp_path, "one.qcow2")
    point_latest(tmp_path, "two.qcow2")
    assert (tmp_path / LATEST).readlink() == Path("two.qcow2")
    assert [p.name for p in tmp_path.iterdir()] == [LATEST]
