"""The compose's initramfs: what it packs, and that it is reproducible."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

from ci_pipeline.stages.qemu.initramfs import build_initramfs
from stages.qemu.module_trees import module_dir


def _members(initramfs: Path) -> dict[str, bytes]:
    """Name -> content of the regular files in a gzip'd newc cpio archive, unpacked with cpio."""
    out = initramfs.parent / "unpacked"
    out.mkdir()
    archive = gzip.decompress(initramfs.read_bytes())
    subprocess.run(["cpio", "-i", "-d", "--quiet"], input=archive, cwd=out, check=True)
    return {
        str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and not p.is_symlink()
    }


def test_modules_are_packed_with_their_load_order(tmp_path: Path) -> None:
    directory = module_dir(tmp_path, "6.1.0-1-cloud-amd64")
    for relative in (directory / "modules.dep").read_text().replace(":", " ").replace("\\", " ").split():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(relative.encode())
    out = tmp_path / "out" / "initramfs.img"
    build_initramfs(out, tmp_path, tmp_path / "log", module_dir=directory)
    members = _members(out)
    order = members["lib/modules/load.order"].decode().split()
    assert order == [
        "virtio_pci_modern_dev.ko",
        "virtio_ring.ko",
        "virtio.ko",
        "virtio_pci.ko",
        "virtio_blk.ko",
    ]
    assert members["lib/modules/virtio_blk.ko"] == b"kernel/drivers/block/virtio_blk.ko"
    assert b"insmod" in members["init"]


def test_without_modules_the_archive_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "initramfs.img", tmp_path / "b" / "initramfs.img"
    build_initramfs(first, tmp_path, tmp_path / "log")
    build_initramfs(second, tmp_path, tmp_path / "log", module_dir=tmp_path / "no-modules")
    assert first.read_bytes() == second.read_bytes()
    assert not any(name.startswith("lib/") for name in _members(first))
