"""The trigger's decisions: recording a batch, and reading them back for the API, dashboard and CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import Decision, table_of
from ci_pipeline.store.states import DecisionKind, IgnoreCause


def record_decisions(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record a batch of decisions (the columns of ``decisions`` by name) in one statement."""
    if rows:
        # A Core executemany, without the ORM's per-row bookkeeping: the trigger's batches are big.
        session.connection().execute(insert(table_of(Decision)), list(rows))


def all_decisions(session: Session) -> list[Decision]:
    """Every decision, oldest first."""
    return list(session.scalars(select(Decision).order_by(Decision.id)))


def newest_decisions(
    session: Session,
    *,
    repo: str | None = None,
    repo_contains: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int,
) -> list[Decision]:
    """Decisions newest first: of ``repo`` (``*`` wildcards) or of repos containing ``repo_contains``,
    of one ``kind`` (``queued`` or ``ignore``; any other word matches none)."""
    if kind and kind not in DecisionKind.__members__.values():
        return []
    query = select(Decision).order_by(Decision.id.desc())
    if repo:
        query = (
            query.where(Decision.repo.like(repo.replace("*", "%")))
            if "*" in repo
            else query.where(Decision.repo == repo)
        )
    if repo_contains:
        query = query.where(Decision.repo.like(f"%{repo_contains}%"))
    if kind:
        query = query.where(Decision.decision == DecisionKind(kind))
    return list(session.execute(query.offset(offset).limit(limit)).scalars())


def get_decision(session: Session, decision_id: int) -> Decision | None:
    """The decision ``decision_id``, if there is one."""
    return session.get(Decision, decision_id)


def decision_for_build(session: Session, build_id: int) -> int | None:
    """The id of the newest decision the trigger numbered ``build_id``."""
    query = select(Decision.id).where(Decision.build_id == build_id).order_by(Decision.id.desc()).limit(1)
    return session.execute(query).scalar()


def msg_id_of_run(session: Session, run_id: int) -> str:
    """The msg_id of the push that queued run ``run_id`` ("" for one given by hand)."""
    query = select(Decision.msg_id).where(Decision.run_id == run_id).order_by(Decision.id).limit(1)
    return session.execute(query).scalar() or ""


def latest_decision_of_rev(session: Session, rev: str) -> Decision | None:
    """The newest decision about a push of ``rev``."""
    query = select(Decision).where(Decision.rev == rev).order_by(Decision.id.desc()).limit(1)
    return session.execute(query).scalars().first()


def decision_counts(session: Session) -> dict[tuple[DecisionKind, IgnoreCause | None], int]:
    """How many decisions there are of each kind and, for ignored pushes, each cause."""
    query = select(Decision.decision, Decision.ignore_cause, func.count(Decision.id)).group_by(
        Decision.decision, Decision.ignore_cause
    )
    return {(kind, cause): int(count) for kind, cause, count in session.execute(query)}
