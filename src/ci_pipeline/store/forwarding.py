"""Forwarding results to another ResultsDB: the cursor of each target, and the results after it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import ForwardCursor, Result


def cursor(store: Store, target: str) -> ForwardCursor:
    """How far results went to ``target``; a new target starts before the first result."""
    with store.session() as session:
        row = session.get(ForwardCursor, target)
        if row is None:
            row = ForwardCursor(target=target, last_result_id=0, failures=0, last_error="")
            session.add(row)
            session.flush()
        return row


def results_after(store: Store, result_id: int, limit: int) -> list[Result]:
    """Up to ``limit`` results after ``result_id``, oldest first."""
    with store.session() as session:
        query = select(Result).where(Result.id > result_id).order_by(Result.id).limit(limit)
        return list(session.execute(query).scalars())


def advance(store: Store, target: str, result_id: int) -> None:
    """``target`` took every result up to ``result_id``: clear its failures."""
    with store.session() as session:
        row = session.get(ForwardCursor, target)
        assert row is not None
        row.last_result_id, row.failures, row.next_attempt_at, row.last_error = result_id, 0, None, ""


def record_failure(store: Store, target: str, error: str, backoff: Callable[[int], float]) -> None:
    """Forwarding to ``target`` failed: count it, keep the error, and wait ``backoff(failures)`` seconds."""
    with store.session() as session:
        row = session.get(ForwardCursor, target)
        assert row is not None
        row.failures += 1
        row.last_error = error
        row.next_attempt_at = utcnow() + timedelta(seconds=backoff(row.failures))
