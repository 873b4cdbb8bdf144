"""What each stage asks of its provisioner, from ``[provision]``: the member's name and the topology.

The smoke, integration and e2e stages each have a ``[provision.<stage>]`` table; the run option
``e2e_machines`` (1 to 16) overrides the e2e stage's count for one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ci_pipeline.config import Config, StageMachinesConfig
from ci_pipeline.errors import ConfigError
from ci_pipeline.provision.base import NetworkKind, Topology
from ci_pipeline.provision.registry import open_provisioner

#: The stages that get machines from a provisioner.
MACHINE_STAGES = ("smoke", "integration", "e2e")
#: The run option that sets how many machines the e2e stage gets.
E2E_MACHINES_OPTION = "e2e_machines"


def stage_machines(config: Config, stage: str) -> StageMachinesConfig:
    """The ``[provision.<stage>]`` table of ``stage``."""
    if stage not in MACHINE_STAGES:
        raise ConfigError(f"The {stage} stage gets no machines; only {', '.join(MACHINE_STAGES)} do.")
    wanted: StageMachinesConfig = getattr(config.provision, stage)
    return wanted


def provisioner_name(config: Config, stage: str) -> str:
    """The name of the provisioner that gives ``stage`` its machines."""
    return stage_machines(config, stage).provisioner


def topology_for(config: Config, stage: str, options: Mapping[str, str] | None = None) -> Topology:
    """The machines ``stage`` asks for: its ``[provision.<stage>]`` table and the run's options."""
    wanted = stage_machines(config, stage)
    count = wanted.count
    override = (options or {}).get(E2E_MACHINES_OPTION, "")
    if stage == "e2e" and override:
        # The run options' own rule (ci_pipeline.run_options) has checked it is 1 to 16.
        count = int(override)
    return Topology(count=count, memory=wanted.memory, cpus=wanted.cpus, network=NetworkKind(wanted.network))


def check_provisioners(config: Config, stages: Iterable[str] = MACHINE_STAGES) -> None:
    """Raise one ConfigError when the provisioner of one of ``stages`` cannot work here (at start)."""
    used = {provisioner_name(config, stage) for stage in stages if stage in MACHINE_STAGES}
    for name in sorted(used):
        open_provisioner(config, name).check()
