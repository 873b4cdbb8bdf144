"""Gating's rows: the packages opted in to gating, and the newest result a policy looks at."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import GatedPackage, Result


def opt_ins(session: Session) -> list[GatedPackage]:
    """Every package opted in to gating, by name."""
    return list(session.execute(select(GatedPackage).order_by(GatedPackage.package)).scalars())


def save_opt_in(
    session: Session, package: str, decision_context: str, test_cases: Sequence[str]
) -> GatedPackage:
    """Gate ``package``'s builds on ``test_cases`` at ``decision_context`` (a new opt-in or a change)."""
    row = session.get(GatedPackage, package) or GatedPackage(package=package)
    row.decision_context, row.test_cases = decision_context, list(test_cases)
    session.add(row)
    session.flush()
    return row


def remove_opt_in(session: Session, package: str) -> bool:
    """Stop gating ``package``; False when it was not opted in."""
    row = session.get(GatedPackage, package)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def latest_result(session: Session, item: str, testcase: str) -> Result | None:
    """The newest result of ``testcase`` about ``item``."""
    query = (
        select(Result)
        .where(Result.item == item, Result.testcase == testcase)
        .order_by(Result.id.desc())
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()
