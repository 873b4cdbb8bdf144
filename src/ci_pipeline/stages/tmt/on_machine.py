"""A suite's tmt plans run on a booted machine over SSH (tmt's ``connect``, as ``ci-pipeline-connect``).

The integration stage boots a machine from the compose and runs its suite's STI playbooks there; a
suite checkout that is also an fmf tree has its tmt plans run on the same machine, as root with the
run's key and the SSH client's host key checks (a lab host's changed key is refused). The machine is
a deployed OSTree tree: nothing is installed into it first, so a plan whose tests require a package
the image lacks is tmt's error (an ERROR result), never a failing test. What
tmt itself needs on the guest (``rsync`` for its work directory, ``/usr/bin/flock`` owned by a package
for its executor, bash for its scripts, ``/etc/profile.d`` for its profile snippet) must be in the
image; the example OS carries them.
"""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.machines.ssh import SshTarget
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.tmt.command import connect_environment, connect_provision
from ci_pipeline.stages.tmt.metadata import TmtMetadata
from ci_pipeline.stages.tmt.runner import judge_tmt, run_plans
from ci_pipeline.stages.tools import Deadline


def run_plans_on_machine(
    ctx: StageContext, checkout: Path, metadata: TmtMetadata, target: SshTarget, deadline: Deadline
) -> StageResult:
    """Run the plans of ``checkout`` on the machine ``target`` and judge them (StageFailure when a
    test failed or tmt could not run a plan, as :func:`~.runner.judge_tmt` says)."""
    provision, environment = connect_provision(target), connect_environment(target)
    return judge_tmt(run_plans(ctx, checkout, metadata, provision, deadline, environment))
