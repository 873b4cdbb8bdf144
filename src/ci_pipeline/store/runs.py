"""Queries on runs and their stages: claiming with leases, locks, and what the command line shows."""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ci_pipeline.errors import NotFound
from ci_pipeline.store.models import Result, Run, StageRun

ACTIVE_STAGE_STATES = ("pending", "queued", "running")


def owner_name() -> str:
    """A scheduler's owner name: ``host:pid:token``, unique per process start."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def owner_is_dead_here(owner: str) -> bool:
    """Whether ``owner`` was a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_runs(session: Session, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[int]:
    """Take up to ``limit`` unfinished runs nobody holds a lease on, oldest first; return their ids.

    PostgreSQL skips rows another scheduler is claiming (``FOR UPDATE SKIP LOCKED``); SQLite's
    ``BEGIN IMMEDIATE`` already serializes the whole transaction.
    """
    query = (
        select(Run.id)
        .where(Run.state != "complete")
        .where(Run.owner.is_(None) | Run.lease_until.is_(None) | (Run.lease_until < now))
        .order_by(Run.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.execute(query).scalars())
    if ids:
        session.execute(update(Run).where(Run.id.in_(ids)).values(owner=owner, lease_until=lease_until))
    return ids


def release_dead_owners(session: Session, me: str) -> int:
    """Free the unfinished runs of schedulers on this host that died; return how many."""
    owners = session.execute(
        select(Run.owner).where(Run.state != "complete", Run.owner.is_not(None), Run.owner != me).distinct()
    ).scalars()
    dead = [owner for owner in owners if owner and owner_is_dead_here(owner)]
    if not dead:
        return 0
    result = session.execute(
        update(Run).where(Run.owner.in_(dead), Run.state != "complete").values(lease_until=None, owner=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def renew_leases(session: Session, owner: str, lease_until: datetime) -> set[int]:
    """Extend the leases of ``owner``'s unfinished runs; return the ids it still holds."""
    session.execute(
        update(Run).where(Run.owner == owner, Run.state != "complete").values(lease_until=lease_until)
    )
    return set(session.execute(select(Run.id).where(Run.owner == owner, Run.state != "complete")).scalars())


def hold_lease(session: Session, run_id: int, owner: str, lease_until: datetime) -> bool:
    """Renew ``owner``'s lease on one run, locking its row; False when another scheduler has it."""
    return hold_lease_reading_cancel(session, run_id, owner, lease_until) is not None


def hold_lease_reading_cancel(
    session: Session, run_id: int, owner: str, lease_until: datetime
) -> tuple[str | None] | None:
    """Renew ``owner``'s lease on one run, locking its row, in one round trip.

    Returns ``(cancel_reason,)`` (what others may have changed), or None when another scheduler has it.
    """
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.owner == owner)
        .values(lease_until=lease_until)
        .returning(Run.cancel_reason)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    return None if row is None else (row[0],)


def cancel_requested(session: Session, owner: str) -> list[int]:
    """The unfinished runs of ``owner`` that someone asked to cancel."""
    query = select(Run.id).where(Run.owner == owner, Run.state != "complete", Run.cancel_reason.is_not(None))
    return list(session.execute(query).scalars())


def stages_of(session: Session, run_id: int) -> list[StageRun]:
    """The stage rows of a run, in pipeline order."""
    query = select(StageRun).where(StageRun.run_id == run_id).order_by(StageRun.position)
    return list(session.execute(query).scalars())


def last_image_finished(session: Session, branch: str) -> datetime | None:
    """When the newest successful image of ``branch`` finished, if there is one."""
    query = (
        select(func.max(StageRun.finished_at))
        .join(Run, Run.id == StageRun.run_id)
        .where(Run.branch == branch, StageRun.stage == "image", StageRun.status == "SUCCESS")
    )
    return session.execute(query).scalar()


def branch_stage_busy(session: Session, branch: str, stage: str, run_id: int) -> bool:
    """Whether another run of ``branch`` has ``stage`` running; takes a lock on PostgreSQL first."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"{branch}\0{stage}".encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    query = (
        select(StageRun.id)
        .join(Run, Run.id == StageRun.run_id)
        .where(Run.branch == branch, StageRun.stage == stage, StageRun.state == "running", Run.id != run_id)
        .limit(1)
    )
    return session.execute(query).first() is not None


def older_unbuilt_runs(session: Session, run: Run) -> list[Run]:
    """Unfinished runs of the same repo and branch, older than ``run``, whose build has not finished."""
    finished = ("complete", "skipped")
    built = select(StageRun.run_id).where(StageRun.stage == "build", StageRun.state.in_(finished))
    query = select(Run).where(
        Run.repo == run.repo,
        Run.branch == run.branch,
        Run.namespace == run.namespace,
        Run.id < run.id,
        Run.state != "complete",
        Run.cancel_reason.is_(None),
        Run.id.not_in(built),
    )
    return list(session.execute(query).scalars())


def any_unfinished(session: Session) -> bool:
    """Whether any run is not complete."""
    return session.execute(select(Run.id).where(Run.state != "complete").limit(1)).first() is not None


def get_run(session: Session, run_id: int) -> Run:
    """The run ``run_id``; NotFound when there is none."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"There is no run {run_id}; see ci-pipeline runs.")
    return run


def list_runs(session: Session, limit: int = 100) -> Sequence[Run]:
    """The newest runs first."""
    return list(session.execute(select(Run).order_by(Run.id.desc()).limit(limit)).scalars())


def request_cancel(session: Session, run_id: int, reason: str) -> bool:
    """Ask the scheduler driving ``run_id`` to abort it; False when the run is already complete."""
    run = get_run(session, run_id)
    if run.state == "complete":
        return False
    if run.cancel_reason is None:
        run.cancel_reason = reason
    return True



def stage_tests(session: Session, rows: Sequence[StageRun]) -> dict[int, list[dict[str, object]]]:
    """The tests each stage row's latest attempt reported, by stage row id: name, outcome, duration, log."""
    attempts = {row.id: row.attempt for row in rows}
    if not attempts:
        return {}
    query = (
        select(Result.stage_run_id, Result.attempt, Result.outcome, Result.note, Result.data)
        .where(Result.source == "test", Result.stage_run_id.in_(list(attempts)))
        .order_by(Result.id)
    )
    tests: dict[int, list[dict[str, object]]] = {}
    for stage_run_id, attempt, outcome, note, data in session.execute(query):
        if stage_run_id is None or attempts.get(stage_run_id) != attempt:
            continue  # a test of an earlier attempt
        name = (data.get("test") or [""])[0]
        duration = float((data.get("duration") or ["0"])[0])
        tests.setdefault(stage_run_id, []).append(
            {"name": name, "outcome": outcome, "duration": duration, "log": note or ""}
        )
    return tests
