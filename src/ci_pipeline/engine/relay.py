"""The outbox relay: sends committed messages to the bus, in order, at least once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ci_pipeline.bus.base import Bus
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.envelope import Signer, decode, encode
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import OutboxMessage, utcnow

log = get_logger(__name__)

RELAY_BATCH = 500


def relay_outbox(store: Store, bus: Bus, limit: int = RELAY_BATCH, signer: Signer | None = None) -> int:
    """Publish up to ``limit`` unsent outbox messages, oldest first; return how many were sent.

    With a ``signer`` every message is signed as it leaves (the store keeps it unsigned).

    The rows stay locked (``FOR UPDATE``, no SKIP LOCKED) while they are published, so relays in
    several processes take turns and never reorder a run's messages. A crash after publishing and
    before the commit sends those messages again: delivery is at least once.
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
        bus.publish_many([(row.topic, _signed(row.payload, signer)) for row in rows])
        if session.get_bind().dialect.name == "postgresql":
            # Losing this mark in a database crash only sends the messages again (at least once
            # anyway), so its commit need not wait for the disk: half the engine's WAL flushes.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in rows]))
            .values(sent_at=utcnow())
        )
    log.debug("relayed %d messages", len(rows))
    return len(rows)


def _signed(payload: bytes, signer: Signer | None) -> bytes:
    return payload if signer is None else encode(signer.sign(decode(payload)))


def relay_all(store: Store, bus: Bus, signer: Signer | None = None) -> int:
    """Relay until the outbox is empty; return how many messages were sent."""
    total = 0
    while sent := relay_outbox(store, bus, signer=signer):
        total += sent
    return total


def outbox_backlog(session: Session) -> tuple[int, datetime | None]:
    """How many committed messages have not been sent yet, and when the oldest of them was made."""
    depth, oldest = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.sent_at.is_(None)
        )
    ).one()
    return int(depth), oldest


def outbox_depth(store: Store) -> int:
    """How many committed messages have not been sent yet."""
    with store.session() as session:
        return outbox_backlog(session)[0]
