"""Tests of how the kernel and the modules its initramfs loads are found on the build host."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.example.host import find_busybox, find_kernel
from stages.qemu.module_trees import module_dir


def test_the_newest_kernel_is_chosen(tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    for release in ("6.9.0-1-cloud-amd64", "6.10.0-1-cloud-amd64", "6.1.0-56-cloud-amd64"):
        (boot / f"vmlinuz-{release}").write_bytes(b"kernel")
        module_dir(tmp_path, release)
    kernel = find_kernel(boot, tmp_path / "modules")
    assert kernel.release == "6.10.0-1-cloud-amd64"
    assert kernel.vmlinuz == boot / "vmlinuz-6.10.0-1-cloud-amd64"
    assert kernel.modules[-1].name == "virtio_blk.ko"


def test_missing_host_parts_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="linux-image-cloud-amd64"):
        find_kernel(tmp_path, tmp_path)
    with pytest.raises(InfrastructureError, match="busybox-static"):
        find_busybox(tmp_path / "busybox")
