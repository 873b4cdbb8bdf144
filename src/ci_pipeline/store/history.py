"""A package's history for its dashboard page: its newest runs, its last good and last bad run, its
trigger decisions, and the gating answers last announced for one of its builds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import Decision, DecisionAnswer, Run
from ci_pipeline.store.states import RunState, Status


def package_runs(session: Session, repo: str, limit: int) -> list[Run]:
    """The newest ``limit`` runs of ``repo``, newest first (read by the ``(repo, id)`` index)."""
    query = select(Run).where(Run.repo == repo).order_by(Run.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def last_run_with_status(session: Session, repo: str, status: Status) -> Run | None:
    """The newest complete run of ``repo`` that ended with ``status``."""
    query = (
        select(Run)
        .where(Run.repo == repo, Run.state == RunState.COMPLETE, Run.status == status)
        .order_by(Run.id.desc())
        .limit(1)
    )
    return session.execute(query).scalars().first()


def package_decisions(session: Session, repo: str, limit: int) -> list[Decision]:
    """The trigger's newest ``limit`` decisions about pushes to ``repo``."""
    query = select(Decision).where(Decision.repo == repo).order_by(Decision.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def subject_answers(session: Session, subject_type: str, identifier: str) -> list[DecisionAnswer]:
    """The gating answers last announced for one subject, by decision context and product version."""
    query = (
        select(DecisionAnswer)
        .where(DecisionAnswer.subject_type == subject_type, DecisionAnswer.subject_identifier == identifier)
        .order_by(DecisionAnswer.decision_context, DecisionAnswer.product_version)
    )
    return list(session.execute(query).scalars())
