"""The outbox relay: sends committed messages to the bus, in order, at least once."""

from __future__ import annotations

from ci_pipeline.bus.base import Bus
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.envelope import Signer, decode, encode
from ci_pipeline.store import outbox
from ci_pipeline.store.db import Store

log = get_logger(__name__)

RELAY_BATCH = 500


def relay_outbox(store: Store, bus: Bus, limit: int = RELAY_BATCH, signer: Signer | None = None) -> int:
    """Publish up to ``limit`` unsent outbox messages, oldest first; return how many were sent.

    With a ``signer`` every message is signed as it leaves (the store keeps it unsigned).

    The rows stay locked (``FOR UPDATE``, no SKIP LOCKED) while they are published, so relays in
    several processes take turns and never reorder a run's messages. A crash after publishing and
    before the commit sends those messages again: delivery is at least once.
    """
    def publish(rows: list[tuple[str, bytes]]) -> None:
        bus.publish_many([(topic, _signed(payload, signer)) for topic, payload in rows])

    sent = outbox.send_unsent(store, limit, publish)
    if sent:
        log.debug("relayed %d messages", sent)
    return sent


def _signed(payload: bytes, signer: Signer | None) -> bytes:
    return payload if signer is None else encode(signer.sign(decode(payload)))


def relay_all(store: Store, bus: Bus, signer: Signer | None = None) -> int:
    """Relay until the outbox is empty; return how many messages were sent."""
    total = 0
    while sent := relay_outbox(store, bus, signer=signer):
        total += sent
    return total


def outbox_depth(store: Store) -> int:
    """How many committed messages have not been sent yet."""
    return outbox.depth(store)
