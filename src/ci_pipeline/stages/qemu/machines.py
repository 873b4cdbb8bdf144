"""The machines of the e2e stage: qemu guests booted from the image, with the suite disk and a private LAN.

Each machine boots like the smoke test's (:func:`ci_pipeline.stages.qemu.boot.qemu_command`: direct kernel
boot, ``-snapshot``), with the suite disk as a second NVMe drive and a virtio network card on a LAN of
its own: a qemu ``socket`` netdev on a multicast group and port chosen at random, sent through the
loopback interface only, so the machines of one stage attempt hear each other and nothing else. The
kernel command line tells the init its name, address and peers (``ci.e2e.name=``, ``ci.e2e.ip=``,
``ci.e2e.peers=``). Every qemu runs in a session of its own, receives SIGKILL if the stage's process
dies (``setpriv --pdeathsig``), and is killed with its process group when the stage returns or raises.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.executors.process import dying_with_parent, kill_group
from ci_pipeline.stages.qemu.boot import qemu_command
from ci_pipeline.stages.qemu.bootdisk import boot_dir

MAX_MACHINES = 16
NETWORK = "10.77.0"
PREFIX_LENGTH = 24
FIRST_HOST = 11


@dataclass(frozen=True)
class Machine:
    """One guest: its name, its address on the LAN and where its console goes."""

    index: int
    name: str
    address: str
    console: Path


def plan_machines(count: int, consoles: Path) -> list[Machine]:
    """``count`` machines named ``machine1``... with consecutive addresses, consoles under ``consoles``."""
    return [
        Machine(
            index=index,
            name=f"machine{index}",
            address=f"{NETWORK}.{FIRST_HOST + index - 1}",
            console=consoles / f"machine{index}.console.log",
        )
        for index in range(1, count + 1)
    ]


def kernel_args(machine: Machine, machines: Sequence[Machine]) -> str:
    """The e2e words of ``machine``'s kernel command line."""
    words = [f"ci.e2e.name={machine.name}", f"ci.e2e.ip={machine.address}/{PREFIX_LENGTH}"]
    peers = [other.address for other in machines if other is not machine]
    if peers:
        words.append(f"ci.e2e.peers={','.join(peers)}")
    return " ".join(words)


def private_lan() -> str:
    """qemu socket netdev options for a new LAN: a random administratively scoped group, loopback only."""
    group = f"239.255.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    port = 20000 + secrets.randbelow(40000)
    return f"mcast={group}:{port},localaddr=127.0.0.1"


def machine_command(
    image: Path, suite_disk: Path, machine: Machine, machines: Sequence[Machine], lan: str, accel: str
) -> list[str]:
    """The qemu command line of one machine."""
    argv = qemu_command(image, boot_dir(image), machine.console, accel, kernel_args(machine, machines))
    argv += ["-drive", f"file={suite_disk},if=none,id=suite,format=raw"]
    argv += ["-device", "nvme,drive=suite,serial=e2e"]
    argv += ["-netdev", f"socket,id=lan,{lan}"]
    argv += ["-device", f"virtio-net-pci,netdev=lan,mac=52:54:00:e2:00:{machine.index:02x}"]
    return argv


def run_machines(
    commands: Mapping[str, Sequence[str]], log_path: Path, timeout: float
) -> dict[str, int | None]:
    """Run every machine until it powers off or ``timeout`` passes; exit status per machine, None if killed.

    Whatever happens, no qemu is left running when this returns or raises.
    """
    processes: dict[str, subprocess.Popen[bytes]] = {}
    deadline = time.monotonic() + timeout
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        try:
            for name, argv in commands.items():
                log.write(f"$ {' '.join(argv)}\n".encode())
                log.flush()
                processes[name] = _start(argv, log)
            return {name: _wait(process, deadline) for name, process in processes.items()}
        finally:
            for process in processes.values():
                kill_group(process.pid)
                process.wait()


def _start(argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    command, preexec = dying_with_parent(argv, signal.SIGKILL)
    try:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec,  # only where setpriv is missing
        )
    except FileNotFoundError as exc:
        raise InfrastructureError(f"The program {argv[0]} is not installed.") from exc


def _wait(process: subprocess.Popen[bytes], deadline: float) -> int | None:
    try:
        return process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None
