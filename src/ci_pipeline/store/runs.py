"""Queries on runs and their stages: claiming with leases, locks, and what the command line shows."""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ci_pipeline.errors import NotFound
from ci_pipeline.store.models import Result, Run, StageRun
from ci_pipeline.store.states import CancelSource, RunState, StageState, Status

COMPLETE = RunState.COMPLETE


def owner_name() -> str:
    """A scheduler's (or a stage process's) owner name: ``host:pid:token``, unique per process start."""
    return f"{socket.gethostname()}:{host_pid()}:{os.urandom(4).hex()}"


def host_pid() -> int:
    """This process's id as the host numbers it: a stage runs in a PID namespace, where getpid() is not."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return os.getpid()


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
        .where(Run.state != COMPLETE)
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
        select(Run.owner).where(Run.state != COMPLETE, Run.owner.is_not(None), Run.owner != me).distinct()
    ).scalars()
    dead = [owner for owner in owners if owner and owner_is_dead_here(owner)]
    if not dead:
        return 0
    result = session.execute(
        update(Run).where(Run.owner.in_(dead), Run.state != COMPLETE).values(lease_until=None, owner=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def renew_leases(session: Session, owner: str, lease_until: datetime) -> set[int]:
    """Extend the leases of ``owner``'s unfinished runs; return the ids it still holds."""
    session.execute(
        update(Run).where(Run.owner == owner, Run.state != COMPLETE).values(lease_until=lease_until)
    )
    return set(session.execute(select(Run.id).where(Run.owner == owner, Run.state != COMPLETE)).scalars())


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
    query = select(Run.id).where(Run.owner == owner, Run.state != COMPLETE, Run.cancel_reason.is_not(None))
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
        .where(Run.branch == branch, StageRun.stage == "image", StageRun.status == Status.SUCCESS)
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
        .where(Run.branch == branch, StageRun.stage == stage, Run.id != run_id)
        .where(StageRun.state == StageState.RUNNING)
        .limit(1)
    )
    return session.execute(query).first() is not None


def older_unbuilt_runs(session: Session, run: Run) -> list[Run]:
    """Unfinished runs of the same repo and branch, older than ``run``, whose build has not finished."""
    finished = (StageState.COMPLETE, StageState.SKIPPED)
    built = select(StageRun.run_id).where(StageRun.stage == "build", StageRun.state.in_(finished))
    query = select(Run).where(
        Run.repo == run.repo,
        Run.branch == run.branch,
        Run.namespace == run.namespace,
        Run.id < run.id,
        Run.state != COMPLETE,
        Run.cancel_reason.is_(None),
        Run.id.not_in(built),
    )
    return list(session.execute(query).scalars())


def any_unfinished(session: Session) -> bool:
    """Whether any run is not complete."""
    return session.execute(select(Run.id).where(Run.state != COMPLETE).limit(1)).first() is not None


def get_run(session: Session, run_id: int) -> Run:
    """The run ``run_id``; NotFound when there is none."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"There is no run {run_id}; see ci-pipeline runs.")
    return run


def list_runs(session: Session, limit: int = 100) -> Sequence[Run]:
    """The newest runs first."""
    return list(session.execute(select(Run).order_by(Run.id.desc()).limit(limit)).scalars())


def request_cancel(session: Session, run_id: int, reason: str, source: CancelSource) -> bool:
    """Ask the scheduler driving ``run_id`` to abort it, noting who asked; False when it is complete."""
    run = get_run(session, run_id)
    if run.state == RunState.COMPLETE:
        return False
    if run.cancel_reason is None:
        run.cancel_reason = reason
        run.cancel_source = source
    return True


def flush(session: Session) -> None:
    """Write the changes held so far (new rows get their ids) without ending the transaction."""
    session.flush()


def find_run(session: Session, run_id: int, *, fresh: bool = False) -> Run | None:
    """The run ``run_id`` or None; ``fresh`` reads it again even if the session holds it."""
    return session.get(Run, run_id, populate_existing=fresh)


def find_run_by_build(session: Session, ci_name: str, build_id: int) -> int | None:
    """The id of the run a ``build_url`` (CI_NAME and build_id) names."""
    query = select(Run.id).where(Run.ci_name == ci_name, Run.build_id == build_id)
    return session.execute(query).scalar()


def reattach(session: Session, run: Run, rows: Sequence[StageRun], cancel_reason: str | None) -> None:
    """Take a run and its stage rows kept from an earlier transaction into this one, as stored.

    ``cancel_reason`` is what the store holds now (read with the lease): set without marking the
    run changed, so the commit does not write it back.
    """
    session.add(run)
    session.add_all(rows)
    set_committed_value(run, "cancel_reason", cancel_reason)


def create_stage_rows(
    session: Session, run: Run, stages: Sequence[str], first_queued: bool
) -> list[StageRun]:
    """Create a run's stage rows in pipeline order, pending; with ``first_queued`` the first is queued."""
    rows = [
        StageRun(
            run_id=run.id,
            position=position,
            stage=stage,
            state=StageState.QUEUED if first_queued and position == 0 else StageState.PENDING,
            queued_at=run.created_at if first_queued and position == 0 else None,
            attempt=0,
            reason="",
            outputs={},
            log_path="",
        )
        for position, stage in enumerate(stages)
    ]
    session.add_all(rows)
    return rows



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
