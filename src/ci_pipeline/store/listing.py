"""What the API, the dashboard and the command line list: runs filtered and paged, the stages of
several runs at once, and a run's test results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import Result, Run, StageRun
from ci_pipeline.store.records import seconds
from ci_pipeline.store.states import RunState, StageState, Status


def _known(enum: type[RunState] | type[Status], word: str | None) -> bool:
    return not word or word in {member.value for member in enum}


def newest_runs(
    session: Session,
    *,
    repo: str | None = None,
    branch: str | None = None,
    state: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int,
    before: int | None = None,
    after: int | None = None,
) -> list[Run]:
    """Runs newest first, filtered by each value given; a state or status no run can have matches none.

    ``before`` pages by key (the runs older than that id, read by an index however deep the page);
    ``after`` gives the ``limit`` runs just newer than that id, still newest first.
    """
    if not (_known(RunState, state) and _known(Status, status)):
        return []
    query = select(Run).order_by(Run.id.asc() if after is not None else Run.id.desc())
    if before is not None:
        query = query.where(Run.id < before)
    if after is not None:
        query = query.where(Run.id > after)
    if repo:
        query = query.where(Run.repo == repo)
    if branch:
        query = query.where(Run.branch == branch)
    if state:
        query = query.where(Run.state == RunState(state))
    if status:
        query = query.where(Run.status == Status(status))
    found = list(session.execute(query.offset(offset).limit(limit)).scalars())
    return found[::-1] if after is not None else found


def stages_of_runs(session: Session, run_ids: Sequence[int]) -> list[StageRun]:
    """The stage rows of several runs in one query, by run and then in pipeline order."""
    if not run_ids:
        return []
    query = (
        select(StageRun)
        .where(StageRun.run_id.in_(list(run_ids)))
        .order_by(StageRun.run_id, StageRun.position)
    )
    return list(session.execute(query).scalars())


@dataclass(frozen=True)
class StageSummary:
    """What a page of many runs shows of each stage: no outputs, reason or log, so no JSON to read."""

    run_id: int
    position: int
    stage: str
    state: StageState
    status: Status | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration(self) -> float | None:
        """How long the stage's latest attempt ran (s); None until it has ended."""
        return seconds(self.started_at, self.finished_at)


def stage_summaries(session: Session, run_ids: Sequence[int]) -> list[StageSummary]:
    """The stages of several runs in one query, by run and then in pipeline order, summarised."""
    if not run_ids:
        return []
    query = (
        select(StageRun.run_id, StageRun.position, StageRun.stage, StageRun.state, StageRun.status,
               StageRun.started_at, StageRun.finished_at)
        .where(StageRun.run_id.in_(list(run_ids)))
        .order_by(StageRun.run_id, StageRun.position)
    )
    return [StageSummary(*row) for row in session.execute(query)]


def run_test_results(session: Session, run_id: int) -> list[Result]:
    """The results of every test the run's stages ran, oldest first."""
    query = select(Result).where(Result.run_id == run_id, Result.source == "test").order_by(Result.id)
    return list(session.execute(query).scalars())
