"""Making the boot disk: the image's name, its boot entry, the syslinux files ostree writes into."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.qemu.bootdisk import (
    SYSLINUX_SETTINGS,
    boot_entry,
    image_name,
    prepare_syslinux,
)

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"


def test_image_name_is_the_seed_form() -> None:
    assert image_name("26.200", REV) == "fedora-atomic-26.200-c15b07cc0f560dd.qcow2"


def test_boot_entry_reads_kernel_initramfs_and_options(tmp_path: Path) -> None:
    entries = tmp_path / "boot/loader/entries"
    entries.mkdir(parents=True)
    (entries / "ostree-1-fedora-atomic.conf").write_text(
        "title x\nversion 1\noptions root=LABEL=ci-sysroot ostree=/ostree/boot.1/a/b/0\n"
        "linux /ostree/a-b/vmlinuz-6.1\ninitrd /ostree/a-b/initramfs-6.1.img\n"
    )
    entry = boot_entry(tmp_path)
    assert entry.kernel == tmp_path / "boot/ostree/a-b/vmlinuz-6.1"
    assert entry.initramfs == tmp_path / "boot/ostree/a-b/initramfs-6.1.img"
    assert entry.options == "root=LABEL=ci-sysroot ostree=/ostree/boot.1/a/b/0"


def test_boot_entry_without_kernel_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "boot/loader/entries").mkdir(parents=True)
    (tmp_path / "boot/loader/entries/e.conf").write_text("title x\n")
    with pytest.raises(StageFailure, match="no kernel"):
        boot_entry(tmp_path)


def test_syslinux_config_is_where_ostree_looks_for_it(tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    prepare_syslinux(boot)
    assert (boot / "syslinux/syslinux.cfg").read_text() == SYSLINUX_SETTINGS
    assert (boot / "syslinux/syslinux.cfg").readlink() == Path("../loader/syslinux.cfg")
    assert (boot / "loader").readlink() == Path("loader.0")
