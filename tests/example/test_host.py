"""Tests of how the kernel and its disk modules are found on the build host."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.example.host import disk_modules, find_busybox, find_kernel

MODULES_DEP = """kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko \
kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
"""


def _module_dir(root: Path, release: str, builtin: str = "") -> Path:
    module_dir = root / "modules" / release
    module_dir.mkdir(parents=True)
    (module_dir / "modules.dep").write_text(MODULES_DEP)
    (module_dir / "modules.builtin").write_text(builtin)
    return module_dir


def test_modules_come_dependencies_first_and_once(tmp_path: Path) -> None:
    module_dir = _module_dir(tmp_path, "6.1.0-1-cloud-amd64")
    names = [path.name for path in disk_modules(module_dir)]
    # modules.dep order, each dependency before the first module needing it
    assert names == [
        "virtio_pci_modern_dev.ko", "virtio_ring.ko", "virtio.ko", "virtio_pci.ko", "virtio_blk.ko"
    ]


def test_built_in_drivers_need_no_module(tmp_path: Path) -> None:
    module_dir = _module_dir(tmp_path, "6.1.0-1-cloud-amd64", builtin="kernel/drivers/block/virtio_blk.ko\n")
    names = [path.name for path in disk_modules(module_dir, ("virtio_blk",))]
    assert names == []


def test_a_missing_driver_is_an_infrastructure_error(tmp_path: Path) -> None:
    module_dir = _module_dir(tmp_path, "6.1.0-1-cloud-amd64")
    with pytest.raises(InfrastructureError, match="have no nvme"):
        disk_modules(module_dir, ("nvme",))


def test_the_newest_kernel_is_chosen(tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    for release in ("6.9.0-1-cloud-amd64", "6.10.0-1-cloud-amd64", "6.1.0-56-cloud-amd64"):
        (boot / f"vmlinuz-{release}").write_bytes(b"kernel")
        _module_dir(tmp_path, release)
    kernel = find_kernel(boot, tmp_path / "modules")
    assert kernel.release == "6.10.0-1-cloud-amd64"
    assert kernel.vmlinuz == boot / "vmlinuz-6.10.0-1-cloud-amd64"
    assert kernel.modules[-1].name == "virtio_blk.ko"


def test_missing_host_parts_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="linux-image-cloud-amd64"):
        find_kernel(tmp_path, tmp_path)
    with pytest.raises(InfrastructureError, match="busybox-static"):
        find_busybox(tmp_path / "busybox")


def test_the_guest_modules_the_kernel_has_are_loaded_after_the_disk_drivers(tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "vmlinuz-6.1.0-1-cloud-amd64").write_bytes(b"kernel")
    module_dir = _module_dir(tmp_path, "6.1.0-1-cloud-amd64", builtin="kernel/net/packet/af_packet.ko\n")
    with (module_dir / "modules.dep").open("a") as dep:
        dep.write("kernel/fs/fat/fat.ko:\nkernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n")
        dep.write("kernel/fs/nls/nls_iso8859-1.ko:\n")
    names = [path.name for path in find_kernel(boot, tmp_path / "modules").modules]
    # isofs, nvme and the others this kernel lacks are left out; af_packet is built in.
    assert names[-4:] == ["virtio_blk.ko", "fat.ko", "vfat.ko", "nls_iso8859-1.ko"]
