"""Machines booted from the run's image on this host: the machine layer (:mod:`ci_pipeline.machines`).

A thin wrapper: :meth:`QemuProvisioner.provision` enters the layer's ``booted_machines`` (each machine
on an overlay of the image with a NoCloud seed carrying a fresh key, SSH forwarded from a free port
on 127.0.0.1, all on one private LAN) and keeps it open until :meth:`~QemuProvisioner.teardown`
leaves it, which kills every qemu. The machines are processes of the stage attempt: they die with
it (``kill -9`` included), so a dead holder's qemu machines need no reclaim beyond the lease.

The layer is looked up when the member is built; an installation without it makes choosing this
member one ConfigError at start.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any, Protocol, Self, cast

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError, InfrastructureError
from ci_pipeline.provision.base import Host, Machines, NetworkKind, Provisioned, Provisioner, ProvisionRequest

MACHINE_LAYER = "ci_pipeline.machines.cluster"
ACCELERATORS = "ci_pipeline.machines.accel"
#: Seconds the machines may take to answer over SSH when the stage has no timeout.
DEFAULT_BOOT_SECONDS = 600.0
_STACK = "exit_stack"


class _SshEndpoint(Protocol):
    host: str
    port: int
    user: str
    key: Path


class _Plan(Protocol):
    lan_address: str
    console: Path


class _BootedMachine(Protocol):
    name: str
    ssh: _SshEndpoint
    plan: _Plan


class _BootMachines(Protocol):
    def __call__(
        self,
        image: Path,
        names: Sequence[str],
        workdir: Path,
        consoles: Path,
        log_path: Path,
        *,
        accel: str,
        deadline: float,
    ) -> AbstractContextManager[list[_BootedMachine]]: ...


class _ChooseAccel(Protocol):
    def __call__(self, requested: str, log_path: Path) -> str: ...


class QemuProvisioner(Provisioner):
    """Machines booted with qemu from the run's image (KVM where it works, else TCG)."""

    name = "qemu"

    def __init__(self, accel: str = "") -> None:
        self.accel = accel

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """The member; it has no settings of its own (the topology comes per request)."""
        return cls()

    def check(self) -> None:
        """The machine layer is part of this installation."""
        _layer()

    def machines(self, request: ProvisionRequest) -> Machines:
        """New names of the attempt's own (``e2e1-r12-a1``): host names a NoCloud seed can carry."""
        suffix = f"r{request.run_id}-a{request.attempt}"
        return Machines(
            candidates=[f"{request.stage}{index}-{suffix}" for index in range(1, request.topology.count + 1)]
        )

    def provision(self, request: ProvisionRequest, leased: Sequence[str]) -> Provisioned:
        """Boot the leased machines from the run's image and return them once SSH answers."""
        if request.deployment.image is None:
            raise InfrastructureError(f"The {request.stage} stage has no image to boot machines from.")
        booted_machines, choose_accel = _layer()
        seconds = request.timeout or DEFAULT_BOOT_SECONDS
        stack = ExitStack()
        try:
            booted = stack.enter_context(
                booted_machines(
                    request.deployment.image,
                    host_names(request, leased),
                    request.workdir,
                    request.consoles or request.workdir / "consoles",
                    request.log_path,
                    accel=choose_accel(request.accel or self.accel, request.log_path),
                    deadline=time.monotonic() + seconds,
                )
            )
        except BaseException:
            stack.close()
            raise
        private = request.topology.network == NetworkKind.PRIVATE
        hosts = [
            Host(
                name=machine.name,
                address=machine.ssh.host,
                port=machine.ssh.port,
                user=machine.ssh.user,
                key=machine.ssh.key,
                private_address=machine.plan.lan_address if private else "",
                console=machine.plan.console,
            )
            for machine in booted
        ]
        return Provisioned(hosts=hosts, state={_STACK: stack, "machines": booted})

    def teardown(self, request: ProvisionRequest, provisioned: Provisioned) -> None:
        """Stop every qemu of the request."""
        stack = provisioned.state.get(_STACK)
        if isinstance(stack, ExitStack):
            stack.close()


def host_names(request: ProvisionRequest, leased: Sequence[str]) -> list[str]:
    """The host names of the machines: the stage's own (one per leased machine), else the leased names."""
    names = list(request.deployment.names)
    if not names:
        return list(leased)
    if len(names) != len(leased):
        raise InfrastructureError(
            f"The {request.stage} stage names {len(names)} machines but leased {len(leased)}."
        )
    return names


def _layer() -> tuple[_BootMachines, _ChooseAccel]:
    """The machine layer's boot and accelerator functions; ConfigError when it is not installed."""
    try:
        cluster: Any = importlib.import_module(MACHINE_LAYER)
        accel: Any = importlib.import_module(ACCELERATORS)
    except ImportError as exc:
        raise ConfigError(
            f"The qemu provisioner needs the machine layer ({MACHINE_LAYER}), which this installation lacks."
        ) from exc
    return cast(_BootMachines, cluster.booted_machines), cast(_ChooseAccel, accel.choose_accel)
