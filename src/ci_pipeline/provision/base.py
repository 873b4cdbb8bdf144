"""The provisioner interface: machines for a stage, as a topology asks, reachable over SSH.

A stage that needs machines (smoke, integration, e2e) describes them as a :class:`Topology` and
what they must run as a :class:`Deployment`; a provisioner makes them (boots them, takes them from a
lab, asks a cloud) and hands back :class:`Host` records: where SSH answers, as whom, with which key,
and each machine's address on the private network between them. Later it tears them down.

Which machines a run holds is kept in the store as leases (:mod:`ci_pipeline.provision.leasing`
takes and gives them back around :meth:`Provisioner.provision` and :meth:`Provisioner.teardown`),
so two runs never share a machine and a dead holder's machines are reclaimed
(:meth:`Provisioner.reclaim`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

from ci_pipeline.config import Config
from ci_pipeline.machines.ssh import CONNECT_TIMEOUT, SshTarget
from ci_pipeline.stages.qemu.console import console_tail

__all__ = [
    "Deployment",
    "Host",
    "Machines",
    "NetworkKind",
    "ProvisionRequest",
    "Provisioned",
    "Provisioner",
    "Topology",
]


class NetworkKind(StrEnum):
    """Which network joins the machines of one request."""

    #: A network of their own: each machine reaches the others at their ``private_address``.
    PRIVATE = "private"
    #: No network between the machines (each is reached over SSH only).
    NONE = "none"


@dataclass(frozen=True)
class Topology:
    """How many machines a stage wants, and how big: the same words for every provisioner."""

    count: int = 1
    memory: int = 1024  # MiB
    cpus: int = 1
    network: NetworkKind = NetworkKind.PRIVATE


@dataclass(frozen=True)
class Deployment:
    """What the machines must run: the run's image, or its compose's commit on the OSTree ref."""

    #: The qcow2 to boot (a provisioner that boots images uses it; ``None`` when there is none).
    image: Path | None = None
    #: The OSTree commit the machines must have booted, the ref it is on and the repo's URL.
    commit: str = ""
    ref: str = ""
    compose_url: str = ""
    #: The host names the stage gives its machines, in order (a member that names the machines it
    #: makes uses them; one that takes existing hosts keeps theirs). Empty: the leased names.
    names: Sequence[str] = ()


@dataclass(frozen=True)
class Host:
    """One reachable machine: how to reach it over SSH, and its address among its peers."""

    name: str
    address: str
    port: int
    user: str
    key: Path
    #: Its address on the private network of its request ("" with :attr:`NetworkKind.NONE`).
    private_address: str = ""
    #: Its serial console's log, where the member keeps one (qemu); ``None`` elsewhere.
    console: Path | None = None
    #: Where its host key is learnt and checked (``None``: a fresh machine's key, not recorded).
    known_hosts: Path | None = None
    #: Seconds one SSH connection may take to be set up.
    connect_timeout: int = CONNECT_TIMEOUT

    @property
    def ssh(self) -> SshTarget:
        """Where its SSH server answers and how to log in, for the SSH client."""
        return SshTarget(
            host=self.address,
            port=self.port,
            user=self.user,
            key=self.key,
            known_hosts=self.known_hosts,
            connect_timeout=self.connect_timeout,
        )

    def console_tail(self) -> str:
        """The last lines of its serial console, where its provisioner keeps one ("" elsewhere)."""
        return console_tail(self.console) if self.console is not None else ""


@dataclass(frozen=True)
class ProvisionRequest:
    """One stage attempt's request for machines."""

    run_id: int
    stage: str
    attempt: int
    topology: Topology
    deployment: Deployment
    #: A directory of the attempt's own (keys, seeds, workspaces) and its log.
    workdir: Path
    log_path: Path
    #: Seconds the whole request may take until every host answers (``None``: the member's default).
    timeout: float | None = None
    #: Where a member that keeps serial consoles writes them (``None``: under :attr:`workdir`).
    consoles: Path | None = None
    #: The accelerator a member that boots machines uses (``kvm``, ``tcg``; "": its own choice).
    accel: str = ""

    @property
    def label(self) -> str:
        """A name for the attempt's machines: letters, digits and dashes only."""
        return f"run{self.run_id}-{self.stage}-{self.attempt}"


@dataclass(frozen=True)
class Machines:
    """Which machines a request is to lease: candidates, of which ``count`` are taken."""

    #: Machine names, in the order they are preferred.
    candidates: Sequence[str]
    #: What a later :meth:`Provisioner.reclaim` needs to tear each down, by machine name.
    details: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Provisioned:
    """Machines a provisioner made: the hosts, and what its :meth:`Provisioner.teardown` needs."""

    hosts: Sequence[Host]
    #: The member's own record of what it made (process ids, a workspace); only it reads it.
    state: Mapping[str, Any] = field(default_factory=dict)


class Provisioner(ABC):
    """Makes machines for a stage and tears them down.

    Required: :attr:`name`, :meth:`machines`, :meth:`provision`, :meth:`teardown`.
    Optional (default given): :meth:`from_config`, :meth:`check`, :meth:`reclaim`.
    """

    #: The member's name in ``[provision]`` configuration.
    name: ClassVar[str]

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """Optional. The member as ``[provision.<name>]`` of ``config`` sets it up; default: no settings."""
        return cls()

    def check(self) -> None:
        """Optional. Raise :class:`~ci_pipeline.errors.ConfigError` when this member cannot work here.

        Called when a service starts and before every request, so a missing tool is one clear
        sentence at start instead of a failure in the middle of a stage. The default checks nothing.
        """
        return None

    @abstractmethod
    def machines(self, request: ProvisionRequest) -> Machines:
        """Required. The machine names to lease for ``request`` (an inventory's, or new ones)."""

    @abstractmethod
    def provision(self, request: ProvisionRequest, leased: Sequence[str]) -> Provisioned:
        """Required. Make the ``leased`` machines run ``request.deployment``; return them once SSH answers.

        Raises :class:`~ci_pipeline.errors.StageFailure` naming a machine that never answered,
        :class:`~ci_pipeline.errors.InfrastructureError` when the machinery failed. Whatever it
        made before raising, it tears down itself.
        """

    @abstractmethod
    def teardown(self, request: ProvisionRequest, provisioned: Provisioned) -> None:
        """Required. Tear down what :meth:`provision` made (stop it, or hand a lab host back)."""

    def reclaim(self, machine: str, detail: Mapping[str, Any]) -> None:
        """Optional. Tear down ``machine`` that a holder which died left behind, from its lease's detail.

        Called by a scheduler that finds the lease of a dead holder; the lease is released after
        it returns. The default has nothing to tear down (the next holder starts it afresh).
        """
        return None
