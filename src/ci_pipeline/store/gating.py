"""Gating's rows: the packages opted in to gating, the results a decision looks at, and a build's commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import GatedPackage, Result, Run


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


def subject_results(
    session: Session,
    item: str,
    types: Sequence[str],
    testcases: Sequence[str],
    when: datetime | None = None,
) -> list[Result]:
    """The results of ``testcases`` about ``item`` (of one of ``types``, or untyped), newest first.

    With ``when``, only the results submitted by then: a decision as it was at that time.
    """
    query = select(Result).where(
        Result.item == item, Result.testcase.in_(testcases), Result.type.in_([*types, ""])
    )
    if when is not None:
        query = query.where(Result.submit_time <= when)
    query = query.order_by(Result.submit_time.desc(), Result.id.desc())
    return list(session.execute(query).scalars())


def build_commit(session: Session, nvr: str) -> tuple[str, str, str] | None:
    """The (namespace, repo, rev) of the newest run that built ``nvr``, from its results; None if none did."""
    query = (
        select(Run.namespace, Run.repo, Run.rev)
        .join(Result, Result.run_id == Run.id)
        .where(Result.item == nvr)
        .order_by(Run.id.desc())
        .limit(1)
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1], row[2])
