"""What the machine stages (smoke, integration, e2e) ask their provisioner for, and read from its hosts.

A stage describes its machines as a :class:`~ci_pipeline.provision.base.Deployment` (the image a
booting member starts from, and the compose's commit, ref and repository URL a lab member deploys)
and reaches them only through the :class:`~ci_pipeline.provision.base.Host` records it gets back, so
the same stage runs on qemu machines, lab hosts or linch-pin hosts (``[provision.<stage>]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_pipeline.provision.base import Deployment, Host
from ci_pipeline.stages.artifacts import BranchArtifacts
from ci_pipeline.stages.qemu.console import console_tail


def stage_deployment(
    fields: Mapping[str, str], artifacts: BranchArtifacts, image: Path, commit: str, names: Sequence[str]
) -> Deployment:
    """The run's image and compose commit (``ref`` and ``compose_url`` fields), for machines named ``names``."""
    return Deployment(
        image=image,
        commit=commit,
        ref=fields.get("ref", ""),
        compose_url=fields.get("compose_url") or artifacts.compose_url,
        names=tuple(names),
    )


def host_console_tail(host: Host) -> str:
    """The last lines of the host's serial console, where its provisioner keeps one ("" elsewhere)."""
    return console_tail(host.console) if host.console is not None else ""
