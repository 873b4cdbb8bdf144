"""Booting machines from an image, reaching them over SSH, and always stopping them.

:func:`booted_machines` boots ``count`` machines at once (each on its own overlay, with its own seed
and forwarded SSH port, all on one private LAN when there are several), waits until every one
answers ``ssh ... true``, and yields them. Whatever ends the block (return, exception, timeout,
cancellation) kills every qemu before it is left.

A qemu stays in the stage attempt's process group (and PID namespace, where the executor gives it
one: :mod:`ci_pipeline.executors.containment`), so stopping an attempt, or a later scheduler
stopping an attempt the dead one left, stops its machines too; and it receives SIGKILL when the
thread that started it dies (``setpriv --pdeathsig``), so ``kill -9`` of the stage's process takes
its machines with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import dying_with_parent
from ci_pipeline.logcontext import get_logger
from ci_pipeline.machines import ssh
from ci_pipeline.machines.accel import KVM_FAILURE, choose_accel, mark_kvm_broken
from ci_pipeline.machines.qemu import (
    MachinePlan,
    create_overlay,
    free_port,
    lan_address,
    machine_command,
    private_lan,
)
from ci_pipeline.machines.seed import Nic, Seed, write_seed
from ci_pipeline.machines.ssh import COMMAND_TIMEOUT, CommandResult, KeyPair, SshTarget
from ci_pipeline.stages.qemu.console import console_tail

logger = get_logger(__name__)

MAX_MACHINES = 16
STOP_WAIT = 10.0
#: What qemu says when the forwarded port is taken, and how often a machine boots on a new one.
PORT_TAKEN = "host forwarding rule"
PORT_TRIES = 3


class KvmCannotRunImage(Exception):
    """qemu said KVM cannot run the image's code; the machines boot again under TCG."""


@dataclass
class Machine:
    """A booted machine: its plan, its SSH endpoint and its qemu."""

    plan: MachinePlan
    ssh: SshTarget
    process: subprocess.Popen[bytes]
    accel: str
    #: When its qemu started (``time.monotonic()``), and how long it took to answer over SSH.
    started: float = 0.0
    boot_seconds: float = 0.0

    @property
    def name(self) -> str:
        """The machine's host name."""
        return self.plan.name

    def run(self, command: str, *, timeout: float = COMMAND_TIMEOUT) -> CommandResult:
        """Run a shell command on the machine."""
        return ssh.run(self.ssh, command, timeout=timeout)

    def check_output(self, command: str, *, timeout: float = COMMAND_TIMEOUT) -> str:
        """A shell command's output; StageFailure when it fails."""
        return ssh.check_output(self.ssh, command, timeout=timeout)

    def copy_to(self, local: Path, remote: str) -> None:
        """Copy a file to the machine."""
        ssh.copy_to(self.ssh, local, remote)

    def copy_from(self, remote: str) -> bytes:
        """A file of the machine, as bytes."""
        return ssh.copy_from(self.ssh, remote)

    def qemu_output(self) -> str:
        """What qemu itself printed so far."""
        log = self.plan.qemu_log
        return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""

    def why_stopped(self) -> str:
        """Why the machine can no longer answer ("" while its qemu runs)."""
        output = self.qemu_output()
        if self.accel == "kvm" and KVM_FAILURE in output:
            raise KvmCannotRunImage(output.strip().splitlines()[0])
        status = self.process.poll()
        if status is None:
            return ""
        return f"qemu exited with status {status}: {output.strip()[-500:]}"

    def console_tail(self) -> str:
        """The last lines of the machine's serial console."""
        return console_tail(self.plan.console)


def plan_machines(count: int, names: Sequence[str], workdir: Path, consoles: Path) -> list[MachinePlan]:
    """Plans for ``count`` machines named ``names`` (files under ``workdir``, consoles under ``consoles``)."""
    if not 1 <= count <= MAX_MACHINES or len(names) != count:
        raise StageFailure(f"Cannot boot {count} machines (1 to {MAX_MACHINES}, one name each).")
    return [
        MachinePlan(
            index=index,
            name=name,
            overlay=workdir / f"{name}.qcow2",
            seed=workdir / f"{name}.seed.img",
            console=consoles / f"{name}.console.log",
            qemu_log=workdir / f"{name}.qemu.log",
            ssh_port=0,
            lan_address=lan_address(index) if count > 1 else "",
        )
        for index, name in enumerate(names, start=1)
    ]


def machine_seed(plan: MachinePlan, keys: KeyPair) -> Seed:
    """The NoCloud seed of a machine: its name, the run's key, DHCP on the first card, its LAN address."""
    nics = [Nic(plan.nic_mac)]
    if plan.lan_address:
        nics.append(Nic(plan.lan_mac, f"{plan.lan_address}/24"))
    return Seed(instance_id=plan.name, hostname=plan.name, authorized_keys=(keys.public,), nics=tuple(nics))


@contextlib.contextmanager
def booted_machines(
    image: Path,
    names: Sequence[str],
    workdir: Path,
    consoles: Path,
    log_path: Path,
    *,
    accel: str,
    deadline: float,
) -> Iterator[list[Machine]]:
    """Boot one machine per name from ``image`` and yield them once SSH answers on each.

    ``accel`` is ``kvm``, ``tcg``, or "" for KVM where it runs guests (:func:`choose_accel`);
    ``deadline`` is a ``time.monotonic()`` value. StageFailure, with the console's tail, for a
    machine that stops or does not answer in time. No qemu runs any more when the block is left.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    consoles.mkdir(parents=True, exist_ok=True)
    keys = ssh.new_key_pair(workdir / "ssh", log_path)
    plans = plan_machines(len(names), names, workdir, consoles)
    for plan in plans:
        write_seed(machine_seed(plan, keys), plan.seed, log_path)
    accel = choose_accel(accel, log_path)
    machines: list[Machine] = []
    try:
        try:
            machines = start_and_reach(image, plans, keys, accel, deadline, log_path)
        except KvmCannotRunImage as exc:
            logger.warning("KVM cannot run %s here (%s); booting under TCG", image.name, exc)
            mark_kvm_broken(str(exc))
            machines = start_and_reach(image, plans, keys, "tcg", deadline, log_path)
        yield machines
    finally:
        stop_machines(machines)


def start_and_reach(
    image: Path, plans: Sequence[MachinePlan], keys: KeyPair, accel: str, deadline: float, log_path: Path
) -> list[Machine]:
    """Start every machine on a new overlay, then wait for each one's SSH; on any failure, stop them all."""
    lan = private_lan() if len(plans) > 1 else ""
    machines: list[Machine] = []
    try:
        for plan in plans:
            create_overlay(image, plan.overlay, log_path)
            machines.append(start_machine(plan, keys, accel, lan, log_path))
        for index in range(len(machines)):
            for attempt in range(1, PORT_TRIES + 1):
                try:
                    reach(machines[index], deadline)
                    break
                except StageFailure:
                    if attempt == PORT_TRIES or not lost_its_port(machines[index]):
                        raise
                # Another program took the free port before qemu bound it: boot again on another.
                machines[index] = start_machine(machines[index].plan, keys, accel, lan, log_path)
    except BaseException:
        stop_machines(machines)
        raise
    return machines


def lost_its_port(machine: Machine) -> bool:
    """Whether the machine's qemu has exited because its SSH port was taken meanwhile."""
    return machine.process.poll() is not None and PORT_TAKEN in machine.qemu_output()


def start_machine(plan: MachinePlan, keys: KeyPair, accel: str, lan: str, log_path: Path) -> Machine:
    """Start one machine's qemu (its own overlay and a new free port for SSH)."""
    plan = dataclasses.replace(plan, ssh_port=free_port())
    plan.console.write_bytes(b"")
    argv = machine_command(plan, accel, lan)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(argv)}\n")
    with plan.qemu_log.open("wb") as qemu_log:
        process = _spawn(argv, qemu_log)
    target = SshTarget(host="127.0.0.1", port=plan.ssh_port, user="root", key=keys.private)
    return Machine(plan=plan, ssh=target, process=process, accel=accel, started=time.monotonic())


def reach(machine: Machine, deadline: float) -> None:
    """Wait until the machine answers over SSH; StageFailure with its console's tail otherwise."""
    try:
        ssh.wait_for_ssh(machine.ssh, deadline, machine.why_stopped)
    except StageFailure as exc:
        raise StageFailure(f"{machine.name}: {exc}\n{machine.console_tail()}") from exc
    machine.boot_seconds = time.monotonic() - machine.started
    logger.info("%s answers over SSH after %.1f s (%s)", machine.name, machine.boot_seconds, machine.accel)


def stop_machines(machines: Sequence[Machine]) -> None:
    """Kill every machine's qemu and wait for it (the guests keep nothing worth a clean shutdown)."""
    for machine in machines:
        with contextlib.suppress(ProcessLookupError):
            machine.process.send_signal(signal.SIGKILL)
    for machine in machines:
        with contextlib.suppress(subprocess.TimeoutExpired):
            machine.process.wait(timeout=STOP_WAIT)


def _spawn(argv: Sequence[str], output: IO[bytes]) -> subprocess.Popen[bytes]:
    command, preexec = dying_with_parent(argv, signal.SIGKILL)
    try:
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec,  # only where setpriv is missing
        )
    except FileNotFoundError as exc:
        raise InfrastructureError(f"The program {argv[0]} is not installed.") from exc


def deadline_in(seconds: float) -> float:
    """A ``time.monotonic()`` deadline ``seconds`` from now."""
    return time.monotonic() + seconds
