"""A kernel's module directory for tests: ``modules.dep`` of the virtio disk drivers, and more."""

from __future__ import annotations

from pathlib import Path

MODULES_DEP = """kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko \
kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
"""


def module_dir(root: Path, release: str, builtin: str = "", more_dep: str = "") -> Path:
    """``root/modules/<release>`` with :data:`MODULES_DEP` (plus ``more_dep``) and ``modules.builtin``."""
    directory = root / "modules" / release
    directory.mkdir(parents=True)
    (directory / "modules.dep").write_text(MODULES_DEP + more_dep)
    (directory / "modules.builtin").write_text(builtin)
    return directory
