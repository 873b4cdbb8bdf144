"""What ``/metrics`` counts in runs and stages; decisions, dead letters and the outbox count their own."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import Run, StageRun
from ci_pipeline.store.states import RunState, StageState, Status


def runs_by_state(session: Session) -> dict[tuple[RunState, Status], int]:
    """How many runs there are in each state with each status."""
    query = select(Run.state, Run.status, func.count(Run.id)).group_by(Run.state, Run.status)
    return {(state, status): int(count) for state, status, count in session.execute(query)}


def complete_stage_durations(session: Session) -> list[tuple[str, Status | None, float]]:
    """Each complete stage that has both times: its name, status and how long it ran (s)."""
    query = select(StageRun.stage, StageRun.status, StageRun.started_at, StageRun.finished_at).where(
        StageRun.state == StageState.COMPLETE,
        StageRun.started_at.is_not(None),
        StageRun.finished_at.is_not(None),
    )
    return [
        (stage, status, (finished - started).total_seconds())
        for stage, status, started, finished in session.execute(query)
        if started is not None and finished is not None
    ]
