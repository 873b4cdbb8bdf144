"""A command stage that leases its machines as a built-in stage does: ``python hold_machines.py CONFIG MARK``.

Its first attempt leases, writes MARK and waits to be killed; a later attempt leases and ends.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ci_pipeline.config import load_config
from ci_pipeline.provision.base import Deployment, ProvisionRequest
from ci_pipeline.provision.leasing import provisioned
from ci_pipeline.provision.settings import provisioner_name, topology_for
from ci_pipeline.store.db import open_store


def main(config_path: str, mark: str) -> int:
    config = load_config(config_path, environ={})
    stage, attempt = os.environ["CI_PIPELINE_STAGE"], int(os.environ["CI_PIPELINE_ATTEMPT"])
    workdir = Path(os.environ["CI_PIPELINE_OUTPUTS"]).parent
    request = ProvisionRequest(
        run_id=int(os.environ["CI_PIPELINE_RUN_ID"]),
        stage=stage,
        attempt=attempt,
        topology=topology_for(config, stage),
        deployment=Deployment(),
        workdir=workdir / "machines",
        log_path=Path(os.environ["CI_PIPELINE_LOG"]),
    )
    store = open_store(config.store.url, migrate=False)
    with provisioned(config, store, provisioner_name(config, stage), request) as made:
        Path(mark).write_text(f"{attempt} {' '.join(host.name for host in made.hosts)}\n")
        while attempt == 1:
            time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
