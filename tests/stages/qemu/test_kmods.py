"""Which kernel modules an initramfs loads, and in what order."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages.qemu.kmods import DISK_MODULES, initramfs_modules, with_dependencies
from stages.qemu.module_trees import module_dir

RELEASE = "6.1.0-1-cloud-amd64"


def test_modules_come_dependencies_first_and_once(tmp_path: Path) -> None:
    names = [path.name for path in with_dependencies(module_dir(tmp_path, RELEASE), DISK_MODULES)]
    # modules.dep order, each dependency before the first module needing it
    assert names == [
        "virtio_pci_modern_dev.ko",
        "virtio_ring.ko",
        "virtio.ko",
        "virtio_pci.ko",
        "virtio_blk.ko",
    ]


def test_built_in_drivers_need_no_module(tmp_path: Path) -> None:
    directory = module_dir(tmp_path, RELEASE, builtin="kernel/drivers/block/virtio_blk.ko\n")
    assert with_dependencies(directory, ("virtio_blk",)) == ()


def test_a_missing_required_driver_is_an_infrastructure_error(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="have no nvme"):
        initramfs_modules(module_dir(tmp_path, RELEASE), required=("nvme",))


def test_the_guest_modules_the_kernel_has_follow_the_disk_drivers(tmp_path: Path) -> None:
    directory = module_dir(
        tmp_path,
        RELEASE,
        builtin="kernel/net/packet/af_packet.ko\n",
        more_dep="kernel/fs/fat/fat.ko:\nkernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n"
        "kernel/fs/nls/nls_iso8859-1.ko:\n",
    )
    names = [path.name for path in initramfs_modules(directory)]
    # isofs, nvme and the others this kernel lacks are left out; af_packet is built in.
    assert names[-4:] == ["virtio_blk.ko", "fat.ko", "vfat.ko", "nls_iso8859-1.ko"]
