"""Changes and their runs, for the trigger: which changes already ran, and creating runs in bulk.

A change is identified by (repo, rev, namespace); its first run is generation 0 and each forced
re-run takes the next number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import Run

#: A change: (repo, rev, namespace).
Change = tuple[str, str, str]


def latest_runs(session: Session, revs: Iterable[str]) -> dict[Change, int]:
    """The latest run of each change of these revs that already has one (one query)."""
    wanted = set(revs)
    if not wanted:
        return {}
    rows = session.execute(
        select(Run.repo, Run.rev, Run.namespace, Run.id).where(Run.rev.in_(wanted)).order_by(Run.generation)
    )
    return {(row.repo, row.rev, row.namespace): row.id for row in rows}


def next_generation(session: Session, change: Change) -> int:
    """The generation a new run of ``change`` takes: 0 for its first run."""
    repo, rev, namespace = change
    latest = session.execute(
        select(func.max(Run.generation)).where(Run.repo == repo, Run.rev == rev, Run.namespace == namespace)
    ).scalar()
    return 0 if latest is None else latest + 1


def create_runs(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Create runs (the columns of ``runs`` by name) in one statement; return their ids in order."""
    if not rows:
        return []
    statement = insert(Run).returning(Run.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, [dict(row) for row in rows]).all())
