"""One machine's qemu: its copy-on-write overlay, its network cards and its command line.

The image is never written: each machine boots a qcow2 overlay backed by it (``qemu-img create -b``).
The machine boots from that disk as any PC does, through its firmware and the disk's boot loader
(:func:`boot_disk_args` is the one place that says how the image is attached). Its NoCloud seed is a
second, read-only disk. Its first network card is qemu's user-mode network with ``restrict=on``
(the guest reaches nothing on the host or beyond) and one forwarded port, 127.0.0.1:<port> to the
guest's 22; machines of one cluster share a second card on a private LAN: a qemu ``socket`` netdev
on a random multicast group, sent through the loopback interface only.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.stages import base

MEMORY_MIB = 512
TOOL_TIMEOUT = 60.0
LAN_NETWORK = "10.77.0"
LAN_PREFIX = 24
FIRST_LAN_HOST = 11


@dataclass(frozen=True)
class MachinePlan:
    """What one machine is: its name, its files and its addresses."""

    index: int
    name: str
    overlay: Path
    seed: Path
    console: Path
    qemu_log: Path
    ssh_port: int
    lan_address: str  # A.B.C.D on the private LAN, "" without one

    @property
    def nic_mac(self) -> str:
        """The MAC of the user-mode card (DHCP, SSH)."""
        return f"52:54:00:00:00:{self.index:02x}"

    @property
    def lan_mac(self) -> str:
        """The MAC of the private LAN's card."""
        return f"52:54:00:e2:00:{self.index:02x}"


def lan_address(index: int) -> str:
    """The private LAN address of machine ``index`` (1-based)."""
    return f"{LAN_NETWORK}.{FIRST_LAN_HOST + index - 1}"


def create_overlay(image: Path, overlay: Path, log_path: Path) -> None:
    """A new qcow2 ``overlay`` whose reads fall through to ``image`` and whose writes stay in it."""
    overlay.unlink(missing_ok=True)
    base.run_tool(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.resolve()), "-F", "qcow2", str(overlay)],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure=f"qemu-img could not create an overlay of {image.name}",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def private_lan() -> str:
    """qemu socket netdev options for a new LAN: a random administratively scoped group, loopback only."""
    group = f"239.255.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    port = 20000 + secrets.randbelow(40000)
    return f"mcast={group}:{port},localaddr=127.0.0.1"


def boot_disk_args(overlay: Path) -> list[str]:
    """How the machine's disk is attached: a virtio disk the firmware boots from."""
    return ["-drive", f"file={overlay},if=virtio,format=qcow2"]


def machine_command(plan: MachinePlan, accel: str, lan: str) -> list[str]:
    """The qemu command line of one machine (``lan``: :func:`private_lan` options, or "" for none)."""
    argv = ["qemu-system-x86_64", "-nodefaults", "-machine", f"q35,accel={accel}", "-cpu", "max"]
    argv += ["-m", str(MEMORY_MIB), "-display", "none", "-no-reboot", "-monitor", "none"]
    argv += ["-serial", f"file:{plan.console}"]
    argv += boot_disk_args(plan.overlay)
    argv += ["-drive", f"file={plan.seed},if=virtio,format=raw,readonly=on"]
    forward = f"hostfwd=tcp:127.0.0.1:{plan.ssh_port}-:22"
    argv += ["-netdev", f"user,id=nic,restrict=on,{forward}"]
    argv += ["-device", f"virtio-net-pci,netdev=nic,mac={plan.nic_mac}"]
    if lan:
        argv += ["-netdev", f"socket,id=lan,{lan}"]
        argv += ["-device", f"virtio-net-pci,netdev=lan,mac={plan.lan_mac}"]
    return argv
