"""A provisioner whose machines exist only in memory: for engine and stage tests without machines.

Its hosts have the documentation address ``192.0.2.<n>`` and nothing answers there; what it made
and tore down is kept in :attr:`MemoryProvisioner.made` and :attr:`MemoryProvisioner.torn_down`
(per process), so a test can see that every machine given was taken back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ci_pipeline.provision.base import Host, Machines, NetworkKind, Provisioned, Provisioner, ProvisionRequest


class MemoryProvisioner(Provisioner):
    """Machines as records: made on request, forgotten on teardown."""

    name = "memory"
    #: Every machine made in this process, and every one torn down or reclaimed, by name.
    made: ClassVar[list[str]] = []
    torn_down: ClassVar[list[str]] = []

    def machines(self, request: ProvisionRequest) -> Machines:
        """New names of the request's own."""
        names = [f"{request.label}-{index}" for index in range(1, request.topology.count + 1)]
        return Machines(candidates=names)

    def provision(self, request: ProvisionRequest, leased: Sequence[str]) -> Provisioned:
        """A host record per leased name."""
        private = request.topology.network == NetworkKind.PRIVATE
        hosts = [
            Host(
                name=name,
                address=f"192.0.2.{index}",
                port=22,
                user="root",
                key=request.workdir / "id_ed25519",
                private_address=f"10.0.2.{index}" if private else "",
            )
            for index, name in enumerate(leased, start=1)
        ]
        self.made.extend(leased)
        return Provisioned(hosts=hosts)

    def teardown(self, request: ProvisionRequest, provisioned: Provisioned) -> None:
        """Forget the hosts."""
        self.torn_down.extend(host.name for host in provisioned.hosts)

    def reclaim(self, machine: str, detail: Mapping[str, Any]) -> None:
        """Forget a machine a dead holder left."""
        self.torn_down.append(machine)
