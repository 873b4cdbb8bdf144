"""linch-pin: a workspace and PinFile per stage attempt, ``linchpin up`` / ``linchpin destroy``.

For each request the member writes, under ``[provision.linchpin] workspace``, a workspace named after
the attempt with a PinFile of one target, :data:`TARGET`: a topology of one resource group of
``resource_group_type`` with one resource definition (``role``, the attempt's name, the count; for
libvirt also memory, vcpus and the run's image as ``image_src``; ``resource`` adds or overrides keys)
and an inventory layout putting every host in the group ``ci`` with ``host_vars``. It runs
``linchpin -w WORKSPACE up ci``, reads the inventory linch-pin wrote (its path from
``resources/linchpin.latest``), and waits until every host answers over SSH. Teardown, and the
reclaim of a dead holder's machines, is ``linchpin -w WORKSPACE destroy ci``.

Where linch-pin is not installed, choosing this member is one ConfigError at start.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from ci_pipeline.config import Config, LinchpinProvisionConfig
from ci_pipeline.errors import ConfigError, InfrastructureError, StageFailure
from ci_pipeline.provision.base import Host, Machines, NetworkKind, Provisioned, Provisioner, ProvisionRequest
from ci_pipeline.provision.deploy import wait_for_host
from ci_pipeline.provision.inventory import HostDefaults, inventory_hosts
from ci_pipeline.stages.base import run_tool

TARGET = "ci"
#: The seconds ``linchpin up`` and ``destroy`` may take.
LINCHPIN_SECONDS = 3600.0
#: Written into a workspace once ``destroy`` succeeded, so a reclaim does not destroy it again.
DESTROYED_MARK = ".destroyed"
#: Where scripts/setup.sh installs linch-pin: a virtualenv beside the project's own.
VENV_COMMAND = Path(sys.prefix).parent / ".venv-linchpin" / "bin" / "linchpin"


class LinchpinProvisioner(Provisioner):
    """Machines from linch-pin's providers (libvirt, OpenStack, AWS, GCE, Duffy, Beaker, dummy)."""

    name = "linchpin"

    def __init__(
        self, settings: LinchpinProvisionConfig, known_hosts: Path, connect_timeout: int = 10
    ) -> None:
        self.settings = settings
        self.known_hosts = known_hosts
        self.connect_timeout = connect_timeout

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """``[provision.linchpin]``, with the SSH client settings of ``[provision.ssh]``."""
        ssh = config.provision.ssh
        return cls(config.provision.linchpin, Path(ssh.known_hosts), ssh.connect_timeout)

    def command(self) -> str:
        """The linchpin program: the configured one, else the one on PATH, else the setup script's."""
        if self.settings.command:
            return self.settings.command
        return shutil.which("linchpin") or str(VENV_COMMAND)

    def check(self) -> None:
        """linch-pin is installed."""
        command = self.command()
        if shutil.which(command) is None:
            raise ConfigError(
                f"The linchpin provisioner needs linch-pin, and {command} is not an installed program; "
                "install linch-pin (scripts/setup.sh puts it into .venv-linchpin) or set "
                "[provision.linchpin] command."
            )

    def machines(self, request: ProvisionRequest) -> Machines:
        """New names of the attempt's own, each recording the workspace that destroys it."""
        workspace = str(self.workspace(request))
        names = [f"{request.label}-{index}" for index in range(request.topology.count)]
        return Machines(candidates=names, details={name: {"workspace": workspace} for name in names})

    def workspace(self, request: ProvisionRequest) -> Path:
        """The attempt's linch-pin workspace."""
        return Path(self.settings.workspace) / request.label

    def provision(self, request: ProvisionRequest, leased: Sequence[str]) -> Provisioned:
        """``linchpin up``, its inventory read, and every host answering over SSH."""
        workspace = self.workspace(request)
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "PinFile").write_text(json.dumps(self.pinfile(request), indent=2) + "\n")
        try:
            self._linchpin(workspace, "up", request.log_path)
            hosts = [
                replace(host, known_hosts=self.known_hosts, connect_timeout=self.connect_timeout)
                for host in self.read_hosts(workspace)
            ]
            if len(hosts) != request.topology.count:
                raise InfrastructureError(
                    f"linch-pin made {len(hosts)} hosts in {workspace}, not {request.topology.count}."
                )
            for host in hosts:
                wait_for_host(host, self.settings.boot_timeout)
        except BaseException:
            self._destroy(workspace, request.log_path)
            raise
        if request.topology.network == NetworkKind.NONE:
            hosts = [replace(host, private_address="") for host in hosts]
        return Provisioned(hosts=hosts, state={"workspace": str(workspace)})

    def teardown(self, request: ProvisionRequest, provisioned: Provisioned) -> None:
        """``linchpin destroy``."""
        self._destroy(self.workspace(request), request.log_path)

    def reclaim(self, machine: str, detail: Mapping[str, Any]) -> None:
        """``linchpin destroy`` in the workspace of a dead holder, once for all its machines."""
        workspace = Path(str(detail.get("workspace", "")))
        root = Path(self.settings.workspace)
        if not workspace.is_absolute() or root not in workspace.parents:
            raise InfrastructureError(f"The lease of {machine} names no workspace under {root}.")
        if (workspace / "PinFile").exists():
            self._destroy(workspace, workspace / "reclaim.log")

    def pinfile(self, request: ProvisionRequest) -> dict[str, Any]:
        """The PinFile of the request: one target with its topology and inventory layout."""
        topology = request.topology
        definition: dict[str, Any] = {
            "role": self.settings.role,
            "name": request.label,
            "count": topology.count,
        }
        if self.settings.resource_group_type == "libvirt":
            definition.update(memory=topology.memory, vcpus=topology.cpus)
            if request.deployment.image is not None:
                definition["image_src"] = f"file://{request.deployment.image}"
        definition.update(self.settings.resource)
        layout = {
            "vars": {"hostname": "__IP__"},
            "hosts": {"node": {"count": topology.count, "host_groups": [TARGET]}},
            "host_groups": {TARGET: {"vars": dict(self.settings.host_vars)}},
        }
        group = {
            "resource_group_name": TARGET,
            "resource_group_type": self.settings.resource_group_type,
            "resource_definitions": [definition],
        }
        return {
            TARGET: {
                "topology": {"topology_name": TARGET, "resource_groups": [group]},
                "layout": {"inventory_layout": layout},
            }
        }

    def read_hosts(self, workspace: Path) -> list[Host]:
        """The hosts of the inventory ``linchpin up`` wrote in ``workspace``."""
        inventory = inventory_path(workspace)
        defaults = HostDefaults(user=self.settings.user, key=Path(self.settings.key))
        return inventory_hosts(inventory.read_text(encoding="utf-8", errors="replace"), defaults)

    def _linchpin(self, workspace: Path, action: str, log_path: Path) -> None:
        # linch-pin's dummy provider keeps its hosts in $TMPDIR: one of the workspace's own.
        scratch = workspace / "tmp"
        scratch.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(scratch)}
        argv = [self.command(), "--workspace", str(workspace), action, TARGET]
        try:
            run_tool(
                argv,
                log_path,
                cwd=workspace,
                env=env,
                timeout=LINCHPIN_SECONDS,
                failure=f"linchpin {action} in {workspace}",
            )
        except StageFailure as exc:
            # linch-pin failing is the machinery failing, not the change under test.
            raise InfrastructureError(str(exc)) from exc

    def _destroy(self, workspace: Path, log_path: Path) -> None:
        if (workspace / DESTROYED_MARK).exists():
            return
        self._linchpin(workspace, "destroy", log_path)
        (workspace / DESTROYED_MARK).touch()


def inventory_path(workspace: Path) -> Path:
    """The inventory of the last ``linchpin up`` in ``workspace``, as ``resources/linchpin.latest`` says."""
    latest = workspace / "resources" / "linchpin.latest"
    try:
        record = json.loads(latest.read_text(encoding="utf-8"))
        for target in record.get("targets", []):
            paths = target.get(TARGET, {}).get("outputs", {}).get("inventory_path", [])
            if paths:
                return _inside(workspace, Path(str(paths[0])))
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise InfrastructureError(
            f"linch-pin left no readable record of its run in {latest}: {exc}."
        ) from exc
    fallback = workspace / "inventories" / f"{TARGET}.inventory"
    if fallback.exists():
        return fallback
    raise InfrastructureError(f"linch-pin wrote no inventory for the target {TARGET} in {workspace}.")


def _inside(workspace: Path, path: Path) -> Path:
    resolved = path.resolve()
    if workspace.resolve() not in resolved.parents:
        raise InfrastructureError(f"linch-pin names an inventory {path} outside its workspace {workspace}.")
    return resolved
