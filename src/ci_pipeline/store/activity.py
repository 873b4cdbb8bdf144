"""What the queue page shows: the stages queued or running now, the runs no scheduler drives yet,
and when each branch last made an image (which the image interval counts from)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import Run, StageRun
from ci_pipeline.store.states import RunState, StageState, Status

ACTIVE_STAGE_STATES = (StageState.QUEUED, StageState.RUNNING)


def active_stages(session: Session, limit: int) -> list[tuple[StageRun, Run]]:
    """The stages queued or running now with their runs, oldest run first.

    Two reads, each by an index (stage state, then run id), sorted here: with a join or an ORDER BY
    in the query a planner may walk every stage row in order instead.
    """
    query = select(StageRun).where(StageRun.state.in_(ACTIVE_STAGE_STATES)).limit(limit)
    stages = sorted(session.execute(query).scalars(), key=lambda stage: (stage.run_id, stage.position))
    ids = sorted({stage.run_id for stage in stages})
    found: list[Run] = list(session.execute(select(Run).where(Run.id.in_(ids))).scalars()) if ids else []
    runs = {run.id: run for run in found}
    return [(stage, runs[stage.run_id]) for stage in stages if stage.run_id in runs]


def unstarted_runs(session: Session, limit: int) -> list[Run]:
    """Runs queued that no scheduler has started yet, oldest first."""
    query = select(Run).where(Run.state == RunState.QUEUED).order_by(Run.id).limit(limit)
    return list(session.execute(query).scalars())


def pending_stages(session: Session, run_ids: Iterable[int]) -> list[StageRun]:
    """The stages of these runs that have not started, in pipeline order."""
    ids = list(run_ids)
    if not ids:
        return []
    query = (
        select(StageRun)
        .where(StageRun.run_id.in_(ids), StageRun.state == StageState.PENDING)
        .order_by(StageRun.run_id, StageRun.position)
    )
    return list(session.execute(query).scalars())


def last_images(session: Session, branches: Iterable[str]) -> dict[str, datetime | None]:
    """When each branch's newest successful image finished (None: never), one indexed read per branch."""
    found: dict[str, datetime | None] = {}
    for branch in sorted(set(branches)):
        query = (
            select(StageRun.finished_at)
            .join(Run, Run.id == StageRun.run_id)
            .where(StageRun.stage == "image", StageRun.status == Status.SUCCESS, Run.branch == branch)
            .where(StageRun.finished_at.is_not(None))
            .order_by(StageRun.finished_at.desc())
            .limit(1)
        )
        found[branch] = session.execute(query).scalar()
    return found
