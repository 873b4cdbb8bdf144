"""Fields a stage gets beside its run's own, worked out from the store when the scheduler starts it.

They travel with the stage's job (to a Celery worker too), are not kept in the run's fields and
appear in no message. Today only the compose has any: the CI builds it installs.
"""

from __future__ import annotations

from ci_pipeline.messages.topics import Stage
from ci_pipeline.stages.ostree.compose_builds import compose_builds_field
from ci_pipeline.store.builds import newest_good_builds
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.rows import Run


def stage_inputs(session: Transaction, run: Run, stage: str) -> dict[str, str]:
    """The extra fields of ``run``'s ``stage``: the compose gets the good builds of the branch."""
    if stage != Stage.COMPOSE:
        return {}
    good = ((build.repo, build.fields) for build in newest_good_builds(session, run.branch))
    return compose_builds_field(run.repo, run.fields, good)
