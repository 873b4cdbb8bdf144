"""Helpers of the provisioner tests: requests and configurations."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.config import Config, load_config
from ci_pipeline.provision.base import Deployment, ProvisionRequest, Topology


def request(
    tmp_path: Path, run_id: int, count: int = 1, stage: str = "e2e", attempt: int = 1
) -> ProvisionRequest:
    """A request of run ``run_id``'s ``stage`` for ``count`` machines, with no commit to deploy."""
    return ProvisionRequest(
        run_id=run_id,
        stage=stage,
        attempt=attempt,
        topology=Topology(count=count),
        deployment=Deployment(),
        workdir=tmp_path / f"work-{run_id}-{stage}-{attempt}",
        log_path=tmp_path / f"{run_id}-{stage}.log",
    )


def config_with(tmp_path: Path, store_url: str, text: str = "") -> Config:
    """A configuration with its state under ``tmp_path``, the store at ``store_url`` and more TOML."""
    path = tmp_path / "ci.toml"
    path.write_text(f'state_dir = "{tmp_path}/state"\n[store]\nurl = "{store_url}"\n{text}')
    return load_config(path, environ={})
