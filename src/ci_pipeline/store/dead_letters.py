"""Dead letters: every inbound message that was rejected, with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ci_pipeline.store.models import DEAD_LETTER_KEPT_BYTES, DeadLetter, table_of

#: How much of a rejected message's topic is kept.
TOPIC_KEPT = 1000


@dataclass(frozen=True)
class Rejected:
    """An inbound message to dead-letter: where it came from, the whole of it, and why."""

    subscription: str
    topic: str
    payload: bytes
    reason: str


def add_dead_letters(session: Session, letters: Sequence[Rejected]) -> None:
    """Record rejected messages: their first bytes and their full size, in one statement."""
    if not letters:
        return
    rows = [
        {
            "subscription": letter.subscription,
            "topic": letter.topic[:TOPIC_KEPT],
            "payload": letter.payload[:DEAD_LETTER_KEPT_BYTES],
            "payload_size": len(letter.payload),
            "reason": letter.reason,
        }
        for letter in letters
    ]
    session.connection().execute(insert(table_of(DeadLetter)), rows)


def all_dead_letters(session: Session) -> list[DeadLetter]:
    """Every dead letter, oldest first."""
    return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def dead_letter_count(session: Session) -> int:
    """How many inbound messages were rejected."""
    return int(session.execute(select(func.count(DeadLetter.id))).scalar_one())
