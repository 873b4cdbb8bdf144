"""Existing hosts over SSH: a lab's inventory (``[provision.ssh] hosts``), one run at a time per host.

The hosts are leased in the store, so two runs never share one. For each request the run's commit is
deployed onto the leased hosts and they reboot into it (:mod:`ci_pipeline.provision.deploy`); a request
without a commit gets the hosts as they are. Teardown hands a host back as it is: the next run
deploys its own commit. A host that never answers fails the stage with its name: as the machinery
failing (retryable) when it does not answer at first, as a FAILURE when it does not come back
running the commit after its reboot.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Self

from ci_pipeline.config import Config, SSHProvisionConfig
from ci_pipeline.errors import ConfigError, InfrastructureError, StageFailure
from ci_pipeline.provision.base import Host, Machines, NetworkKind, Provisioned, Provisioner, ProvisionRequest
from ci_pipeline.provision.deploy import Target, deploy_and_reboot, wait_for_host


class SSHProvisioner(Provisioner):
    """Hosts of an inventory, deployed with the run's commit."""

    name = "ssh"

    def __init__(self, settings: SSHProvisionConfig) -> None:
        self.settings = settings
        self.targets = {
            host.name: Target(
                host=Host(
                    name=host.name,
                    address=host.address,
                    port=host.port or settings.port,
                    user=host.user or settings.user,
                    key=Path(host.key or settings.key),
                    private_address=host.private_address,
                    known_hosts=Path(settings.known_hosts),
                    connect_timeout=settings.connect_timeout,
                ),
                stateroot=host.stateroot,
            )
            for host in settings.hosts
        }

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """The inventory of ``[provision.ssh]``."""
        return cls(config.provision.ssh)

    def check(self) -> None:
        """The ssh client is installed and every host's key file is there."""
        if shutil.which("ssh") is None:
            raise ConfigError("The ssh provisioner needs OpenSSH's client (ssh), which is not installed.")
        if not self.targets:
            raise ConfigError("The ssh provisioner has no hosts: list them in [provision.ssh] hosts.")
        for target in self.targets.values():
            if not target.host.key.is_file():
                raise ConfigError(
                    f"The key {target.host.key} of the host {target.host.name} in [provision.ssh] "
                    "does not exist."
                )

    def machines(self, request: ProvisionRequest) -> Machines:
        """Every host of the inventory, in its order."""
        return Machines(candidates=list(self.targets))

    def provision(self, request: ProvisionRequest, leased: Sequence[str]) -> Provisioned:
        """Deploy the run's commit onto the leased hosts (at once) and wait until each runs it."""
        private = request.topology.network == NetworkKind.PRIVATE
        targets = [self.targets[name] for name in leased]
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            # list(): every host's failure surfaces; the first, in inventory order, is raised.
            list(pool.map(lambda target: self._prepare(request, target), targets))
        hosts = [t.host if private else _without_private(t.host) for t in targets]
        return Provisioned(hosts=hosts)

    def _prepare(self, request: ProvisionRequest, target: Target) -> None:
        try:
            wait_for_host(target.host, self.settings.boot_timeout)
        except StageFailure as exc:
            # Down before anything of the run reached it: the lab failed, not the change.
            raise InfrastructureError(str(exc)) from exc
        if request.deployment.commit:
            deploy_and_reboot(target, request.deployment, request.log_path, self.settings.boot_timeout)

    def teardown(self, request: ProvisionRequest, provisioned: Provisioned) -> None:
        """Nothing to stop: the hosts stay up for the next run, which deploys its own commit."""


def _without_private(host: Host) -> Host:
    return replace(host, private_address="")
