"""Runs with stage rows at chosen times, written straight to a store, for the dashboard's queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run, StageRun

#: (stage, state, status, seconds it ran); a None status for stages that are not complete.
StagePlan = tuple[str, str, str | None, float]


def add_run_with_stages(
    store: Store,
    repo: str,
    created: datetime,
    stages: list[StagePlan],
    *,
    branch: str = "f26",
    state: str = "complete",
    status: str = "SUCCESS",
    owner: str | None = None,
) -> int:
    """Store one run of ``repo`` whose stages ran back to back from ``created``; return its id."""
    with store.session() as session:
        count = session.query(Run).count()
        run = Run(repo=repo, rev=f"{count:040x}", namespace="rpms", branch=branch, ci_name=f"ci-{branch}",
                  build_id=count + 1, state=state, status=status, created_at=created, owner=owner,
                  fields={"nvr": f"{repo}-1-{count}.fc26"})
        session.add(run)
        session.flush()
        at = created
        for position, (stage, stage_state, stage_status, ran) in enumerate(stages):
            started = at + timedelta(seconds=1) if stage_state in ("running", "complete") else None
            finished = started + timedelta(seconds=ran) if started and stage_state == "complete" else None
            session.add(StageRun(run_id=run.id, position=position, stage=stage, state=stage_state,
                                 status=stage_status, attempt=1 if started else 0, reason="", outputs={},
                                 log_path="", queued_at=at if stage_state != "pending" else None,
                                 started_at=started, finished_at=finished))
            at = finished or at
        return run.id
