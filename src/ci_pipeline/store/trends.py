"""Per stage and day: how many stages ended, how many failed, and their duration percentiles.

The percentiles are nearest-rank ones computed by the database (a window over each stage and day),
so a page reads one row per stage and day rather than every stage row of the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ci_pipeline.store.models import StageRun
from ci_pipeline.store.states import StageState, Status

#: The percentiles of a day's durations the trends show.
PERCENTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class DailyStageFigures:
    """One stage on one day (UTC): its ends, its failures, and its duration percentiles (s)."""

    stage: str
    day: str  # YYYY-MM-DD
    ended: int
    failed: int
    percentiles: tuple[float, ...]

    @property
    def failure_rate(self) -> float:
        """The share of the day's ends that were failures."""
        return self.failed / self.ended if self.ended else 0.0


def _day_and_seconds(dialect: str) -> tuple[ColumnElement[object], ColumnElement[float]]:
    started, finished = StageRun.started_at, StageRun.finished_at
    if dialect == "postgresql":
        day = func.to_char(func.timezone("UTC", finished), "YYYY-MM-DD")
        return day, cast(func.extract("epoch", finished - started), Float)
    # SQLite keeps UTC times as text; julianday() reads them.
    return func.date(finished), (func.julianday(finished) - func.julianday(started)) * 86400.0


def daily_stage_figures(
    session: Session, since: datetime, until: datetime | None = None
) -> list[DailyStageFigures]:
    """The figures of every stage and day for the stages complete from ``since`` (until ``until``),
    by stage and day."""
    day, seconds = _day_and_seconds(session.get_bind().dialect.name)
    ended = (
        select(
            StageRun.stage.label("stage"),
            day.label("day"),
            StageRun.status.label("status"),
            seconds.label("seconds"),
        )
        .where(
            StageRun.finished_at >= since,
            StageRun.state == StageState.COMPLETE,
            StageRun.started_at.is_not(None),
            *([StageRun.finished_at < until] if until is not None else []),
        )
        .subquery()
    )
    per_day = (ended.c.stage, ended.c.day)
    ranked = select(
        *ended.c,
        func.row_number().over(partition_by=per_day, order_by=ended.c.seconds).label("rank"),
        func.count().over(partition_by=per_day).label("total"),
    ).subquery()
    nearest = [
        func.min(case((ranked.c.rank >= share * ranked.c.total, ranked.c.seconds))) for share in PERCENTILES
    ]
    failed = func.sum(case((ranked.c.status == Status.FAILURE, 1), else_=0))
    query = (
        select(ranked.c.stage, ranked.c.day, func.max(ranked.c.total), failed, *nearest)
        .group_by(ranked.c.stage, ranked.c.day)
        .order_by(ranked.c.stage, ranked.c.day)
    )
    return [
        DailyStageFigures(
            stage=str(stage),
            day=str(day)[:10],
            ended=int(total),
            failed=int(failures or 0),
            percentiles=tuple(max(0.0, float(value or 0.0)) for value in values),
        )
        for stage, day, total, failures, *values in session.execute(query)
    ]
