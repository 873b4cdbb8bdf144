"""The image stage's disk boots on its own: BIOS and UEFI firmware, a virtio disk, no -kernel.

The example OS is composed once per module and the image stage builds its disk. Each boot runs
qemu exactly as a user would (``-m 1024 -drive file=IMAGE,if=virtio``, OVMF as ``-bios`` for UEFI),
with ``-snapshot`` so the image stays as built, until the example initramfs says it hands over to
the deployment's init. The boots use TCG: on hosts with nested virtualisation KVM may run a kernel
booted directly but fail inside firmware and boot loaders (an emulation failure in SeaBIOS's
hand-over to syslinux, or in OVMF's flash), and TCG gets through both in seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from compose_fixtures import example_config, stage_context

from ci_pipeline.errors import StageFailure
from ci_pipeline.example.world import create_world
from ci_pipeline.stages import compose, image
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.qemu import bootdisk
from ci_pipeline.stages.qemu.disklayout import MIB, write_disk
from ci_pipeline.stages.qemu.firmware import Firmware, qemu_firmware_args
from ci_pipeline.stages.qemu.initramfs import build_initramfs

pytestmark = pytest.mark.integration

OSNAME = "fedora-atomic"
#: What the example initramfs prints as it runs the deployment's /usr/sbin/init.
HANDED_OVER = "CI-INITRAMFS switch_root /sysroot/ostree/deploy/"
BOOT_TIMEOUT = 180.0


@dataclass(frozen=True)
class Built:
    """A compose of the example OS and the image the image stage built from it."""

    root: Path
    compose_repo: Path
    rev: str
    image: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("boot-disk")
    world = create_world(root / "world")
    config = example_config(root, world)
    fields = {"branch": world.branch}
    fields.update(compose.run(stage_context(root, 1, "compose", fields, config)).outputs)
    outputs = image.run(stage_context(root, 2, "image", fields, config)).outputs
    artifacts = BranchArtifacts.of(config, fields)
    return Built(
        root=root,
        compose_repo=artifacts.ostree_repo,
        rev=fields["compose_rev"],
        image=artifacts.images_dir / outputs["image_name"],
    )


def boot_until(
    image: Path, firmware: Firmware, console: Path, marker: str, extra: tuple[str, ...] = ()
) -> str:
    """Boot ``image`` from a virtio disk with ``firmware`` until ``marker`` is on the console; return it."""
    argv = [
        "qemu-system-x86_64",
        "-machine",
        "accel=tcg",
        "-m",
        "1024",
        *qemu_firmware_args(firmware),
        *extra,
    ]
    argv += ["-drive", f"file={image},if=virtio", "-snapshot", "-display", "none", "-no-reboot"]
    argv += ["-serial", f"file:{console}", "-monitor", "none"]
    errors = console.with_suffix(".qemu.txt")
    with errors.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    deadline = time.monotonic() + BOOT_TIMEOUT
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if marker in _read(console):
                return _read(console)
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    text = _read(console)
    raise AssertionError(f"{marker!r} never appeared; qemu: {_read(errors)}; console:\n{text[-3000:]}")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_bios_boots_the_disk_through_syslinux(built: Built, tmp_path: Path) -> None:
    console = boot_until(built.image, Firmware.BIOS, tmp_path / "console.log", HANDED_OVER)
    assert "SYSLINUX" in console
    assert f"ostree=/ostree/boot.1/{OSNAME}/" in console
    assert f"{HANDED_OVER}{OSNAME}/deploy/{built.rev}.0 /usr/sbin/init" in console


def test_uefi_boots_the_disk_through_systemd_boot(built: Built, tmp_path: Path) -> None:
    console = boot_until(built.image, Firmware.UEFI, tmp_path / "console.log", HANDED_OVER)
    assert "EFI stub" in console and "SYSLINUX" not in console
    assert f"{HANDED_OVER}{OSNAME}/deploy/{built.rev}.0 /usr/sbin/init" in console


def test_the_compose_initramfs_loads_the_virtio_disk_driver(built: Built, tmp_path: Path) -> None:
    """The initramfs the compose adds to a tree without one finds a root on a virtio disk."""
    kernel = sorted(Path("/boot").glob("vmlinuz-*"))[-1]
    module_dir = Path("/lib/modules") / kernel.name.removeprefix("vmlinuz-")
    initramfs = tmp_path / "initramfs.img"
    build_initramfs(initramfs, tmp_path, tmp_path / "log", module_dir=module_dir)
    sysroot = tmp_path / "sysroot"
    bootdisk.deploy_sysroot(built.compose_repo, built.rev, OSNAME, sysroot, tmp_path / "log")
    cmdline = bootdisk.boot_entry(sysroot).options.strip()
    direct = ("-kernel", str(kernel), "-initrd", str(initramfs), "-append", cmdline)
    console = boot_until(
        built.image, Firmware.BIOS, tmp_path / "console.log", "CI-INITRAMFS deployment", direct
    )
    assert "virtio_blk" in console and f"/deploy/{built.rev}.0" in console


def _esp_file(raw: Path, path: str) -> bytes:
    """A file of the ESP of the disk ``raw``, read with mtools (nothing mounted)."""
    done = subprocess.run(
        ["mtype", "-i", f"{raw}@@{MIB}", f"::{path}"],
        check=True,
        capture_output=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )
    return done.stdout


def test_the_esp_carries_the_entries_ostree_wrote(built: Built, tmp_path: Path) -> None:
    sysroot, raw, log = tmp_path / "sysroot", tmp_path / "disk.raw", tmp_path / "log"
    bootdisk.deploy_sysroot(built.compose_repo, built.rev, OSNAME, sysroot, log)
    write_disk(sysroot, raw, tmp_path, log)
    loader = sysroot / "boot/loader"
    entries = sorted(loader.glob("entries/*.conf"))
    assert len(entries) == 1
    for written in [*entries, loader / "syslinux.cfg"]:
        assert _esp_file(raw, f"/{written.relative_to(sysroot / 'boot')}") == written.read_bytes()
    assert b"\tKERNEL /boot/ostree/" in (loader / "syslinux.cfg").read_bytes()
    # The kernel where the BLS entry names it, and again where syslinux.cfg does (/boot/ostree/...).
    kernel = next((sysroot / "boot").glob("ostree/*/vmlinuz-*"))
    relative = kernel.relative_to(sysroot / "boot")
    assert _esp_file(raw, f"/{relative}") == _esp_file(raw, f"/boot/{relative}") == kernel.read_bytes()
    table = subprocess.run(
        ["sgdisk", "--print", "--info=1", str(raw)], check=True, capture_output=True, text=True
    )
    assert "EF00" in table.stdout and "8304" in table.stdout
    assert "Attribute flags: 0000000000000004" in table.stdout  # bit 2: legacy BIOS bootable
    assert raw.read_bytes()[:440] == Path("/usr/lib/syslinux/mbr/gptmbr.bin").read_bytes()[:440]


def test_a_commit_without_a_kernel_fails_clearly(tmp_path: Path) -> None:
    repo, tree = tmp_path / "repo", tmp_path / "tree"
    (tree / "usr/lib").mkdir(parents=True)
    (tree / "usr/lib/os-release").write_text("ID=nokernel\n")
    ostree.init_repo(repo, "archive", tmp_path / "log")
    rev = ostree.commit_tree(
        repo, "nokernel", tree, tmp_path / "log", subject="x", version="26.1", parent=None
    )
    with pytest.raises(StageFailure, match=f"The commit {rev} has no kernel"):
        bootdisk.build_disk(repo, rev, OSNAME, tmp_path / "disk.qcow2", tmp_path, tmp_path / "log")
    assert not (tmp_path / "disk.qcow2").exists() and not (tmp_path / "sysroot").exists()
