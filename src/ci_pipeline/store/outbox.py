"""The outbox: messages committed with the state change that caused them, and the relay's queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import OutboxMessage, Run, table_of


@dataclass(frozen=True)
class Message:
    """One message of the outbox log: its position, topic, encoded envelope and when it was made."""

    id: int
    topic: str
    payload: bytes
    created_at: datetime


def add_message(session: Session, run_id: int | None, topic: str, payload: bytes) -> None:
    """Put one message in the outbox, written with the transaction's other changes at its commit."""
    session.add(OutboxMessage(run_id=run_id, topic=topic, payload=payload))


def add_messages(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Put many messages (``run_id``, ``topic``, ``payload``) in the outbox in one statement.

    The statement runs at once: messages :func:`add_message` holds for the commit come after these.
    """
    if rows:
        # A Core executemany, without the ORM's per-row bookkeeping: the trigger's batches are big.
        session.connection().execute(insert(table_of(OutboxMessage)), list(rows))


def send_unsent(store: Store, limit: int, send: Callable[[list[tuple[str, bytes]]], None]) -> int:
    """Hand up to ``limit`` unsent messages, oldest first, to ``send``, then mark them sent.

    The rows stay locked (``FOR UPDATE``, no SKIP LOCKED) while ``send`` runs, so relays in several
    processes take turns and never reorder a run's messages. A crash after sending and before the
    commit sends those messages again: delivery is at least once. Returns how many were sent.
    """
    with store.session() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload)
            .where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update()
        ).all()
        if not rows:
            return 0
        send([(row.topic, row.payload) for row in rows])
        if session.get_bind().dialect.name == "postgresql":
            # Losing this mark in a database crash only sends the messages again (at least once
            # anyway), so its commit need not wait for the disk: half the engine's WAL flushes.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        sent = [row.id for row in rows]
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(sent)).values(sent_at=utcnow()))
    return len(rows)


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many committed messages have not been sent yet, and when the oldest of them was made."""
    depth, oldest = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.sent_at.is_(None)
        )
    ).one()
    return int(depth), oldest


def message_count(session: Session) -> int:
    """How many messages the service has committed."""
    return int(session.execute(select(func.count(OutboxMessage.id))).scalar_one())


def depth(store: Store) -> int:
    """How many committed messages have not been sent yet."""
    with store.session() as session:
        return backlog(session)[0]


def messages_after(store: Store, topic_glob: str, after: int) -> Iterator[Message]:
    """The messages after position ``after`` whose topic matches the glob as the buses match it."""
    with store.session() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload, OutboxMessage.created_at)
            .where(OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
        ).all()
    for row in rows:
        if topic_matches(row.topic, [topic_glob]):
            yield Message(row.id, row.topic, row.payload, row.created_at)


def glob_to_like(pattern: str) -> str:
    """A shell glob (``*``, ``?``) as an SQL LIKE pattern."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def newest_messages(
    session: Session,
    *,
    topic_glob: str | None = None,
    repo: str | None = None,
    rev: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
) -> Iterator[OutboxMessage]:
    """Up to ``limit`` messages newest first, by topic glob and time window.

    With ``repo`` or ``rev``, only the messages of matching runs and the messages of no run (an
    ignore message) are read; the caller checks the bodies of the latter.
    """
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if topic_glob:
        query = query.where(OutboxMessage.topic.like(glob_to_like(topic_glob), escape="\\"))
    if since is not None:
        query = query.where(OutboxMessage.created_at >= since)
    if until is not None:
        query = query.where(OutboxMessage.created_at <= until)
    if repo or rev:
        runs = select(Run.id)
        runs = runs.where(Run.repo == repo) if repo else runs
        runs = runs.where(Run.rev == rev) if rev else runs
        query = query.where(OutboxMessage.run_id.in_(runs) | OutboxMessage.run_id.is_(None))
    return iter(session.execute(query.limit(limit)).scalars())


def run_messages(session: Session, run_id: int) -> list[OutboxMessage]:
    """The messages one run sent, oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.run_id == run_id).order_by(OutboxMessage.id)
    return list(session.execute(query).scalars())
