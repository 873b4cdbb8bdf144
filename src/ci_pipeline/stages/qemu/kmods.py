"""Kernel modules an initramfs loads, found through the kernel's ``modules.dep``.

Modules built into the kernel (``modules.builtin``) need no file. The initramfs loads them in the
order :func:`with_dependencies` gives, dependencies first; modules loaded there stay loaded after
``switch_root``, so the list also holds what the running guest needs (:data:`GUEST_MODULES`).
"""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.errors import InfrastructureError

#: What an initramfs needs to see a virtio disk (ext4 is built into common kernels).
DISK_MODULES = ("virtio_pci", "virtio_blk")
#: Loaded as well when the kernel has them: an NVMe disk, the machines' network card, the
#: filesystems of a seed volume (vfat reads names with code page 437 and the ``ascii`` or
#: ``iso8859-1`` character set), and packet sockets for a DHCP client.
GUEST_MODULES = (
    "nvme",
    "virtio_net",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_iso8859_1",
    "isofs",
    "af_packet",
)


def initramfs_modules(module_dir: Path, required: tuple[str, ...] = ()) -> tuple[Path, ...]:
    """The module files an initramfs of the kernel in ``module_dir`` loads, in load order.

    ``required`` modules must be there (InfrastructureError otherwise); the others of
    :data:`DISK_MODULES` and :data:`GUEST_MODULES` are taken when the kernel has them.
    """
    optional = tuple(name for name in DISK_MODULES + GUEST_MODULES if name not in required)
    return with_dependencies(module_dir, required + available(module_dir, optional))


def with_dependencies(module_dir: Path, wanted: tuple[str, ...]) -> tuple[Path, ...]:
    """The module files for ``wanted`` and everything they depend on, dependencies first."""
    dependencies = _read_modules_dep(module_dir)
    builtin = _read_builtin(module_dir)
    ordered: list[str] = []
    for name in wanted:
        _visit(name, dependencies, builtin, ordered, module_dir)
    return tuple(module_dir / relative for relative in ordered)


def available(module_dir: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``names`` the kernel has, as a module or built in."""
    known = {_module_name(path) for path in _read_modules_dep(module_dir)} | _read_builtin(module_dir)
    return tuple(name for name in names if name in known)


def _visit(
    name: str, dependencies: dict[str, list[str]], builtin: set[str], ordered: list[str], module_dir: Path
) -> None:
    if name in builtin:
        return
    relative = next((path for path in dependencies if _module_name(path) == name), None)
    if relative is None:
        raise InfrastructureError(
            f"The kernel modules in {module_dir} have no {name}; install the kernel package again."
        )
    if relative in ordered:
        return
    for needed in dependencies[relative]:
        _visit(_module_name(needed), dependencies, builtin, ordered, module_dir)
    ordered.append(relative)


def _read_modules_dep(module_dir: Path) -> dict[str, list[str]]:
    try:
        text = (module_dir / "modules.dep").read_text()
    except OSError as exc:
        raise InfrastructureError(f"Cannot read {module_dir}/modules.dep: {exc}.") from exc
    dependencies = {}
    for line in text.splitlines():
        module, _, needs = line.partition(":")
        dependencies[module.strip()] = needs.split()
    return dependencies


def _read_builtin(module_dir: Path) -> set[str]:
    path = module_dir / "modules.builtin"
    if not path.exists():
        return set()
    return {_module_name(line) for line in path.read_text().split()}


def _module_name(path: str) -> str:
    """``kernel/drivers/block/virtio_blk.ko.xz`` -> ``virtio_blk`` (dashes read as underscores)."""
    return Path(path).name.split(".ko")[0].replace("-", "_")
