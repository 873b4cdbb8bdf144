"""Unit tests of the image stage's naming, pruning and boot entry reading."""

from __future__ import annotations

import os
from pathlib import Path

from ci_pipeline.stages.image import prune_images
from ci_pipeline.stages.qemu.bootdisk import LATEST, image_name

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"


def _image(images: Path, n: int, mtime: int) -> Path:
    path = images / image_name(f"26.{n}", REV)
    path.write_bytes(b"qcow2")
    os.utime(path, (mtime, mtime))
    return path


def test_prune_keeps_the_newest_and_the_latest_link(tmp_path: Path) -> None:
    paths = [_image(tmp_path, n, 1000 + n) for n in range(1, 6)]
    (tmp_path / LATEST).symlink_to(paths[0].name)
    prune_images(tmp_path, keep=2)
    left = sorted(p.name for p in tmp_path.glob("*.qcow2") if not p.is_symlink())
    assert left == sorted([paths[0].name, paths[3].name, paths[4].name])
