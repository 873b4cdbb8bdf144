"""The qemu command line that boots an image."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.stages.qemu.boot import qemu_command


def test_qemu_command_boots_the_kept_kernel_from_a_snapshot(tmp_path: Path) -> None:
    image = tmp_path / "fedora-atomic-26.1-c15b07cc0f560dd.qcow2"
    boot = tmp_path / "fedora-atomic-26.1-c15b07cc0f560dd.boot"
    boot.mkdir()
    (boot / "cmdline").write_text("root=LABEL=ci-sysroot ostree=/ostree/boot.1/x/y/0\n")
    argv = qemu_command(image, boot, tmp_path / "console.log", "tcg")
    assert argv[0] == "qemu-system-x86_64" and "q35,accel=tcg" in argv and "-snapshot" in argv
    assert argv[argv.index("-append") + 1].startswith("root=LABEL=ci-sysroot ostree=/ostree/boot.1/x/y/0 ")
    assert "-initrd" not in argv
    assert f"file:{tmp_path / 'console.log'}" in argv
