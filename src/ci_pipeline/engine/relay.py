"""The outbox relay: sends committed messages to the bus, in order, at least once."""

from __future__ import annotations

from collections.abc import Mapping

from ci_pipeline.bus.base import Bus
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.envelope import Signer, decode, encode
from ci_pipeline.store import outbox
from ci_pipeline.store.db import Store

log = get_logger(__name__)

RELAY_BATCH = 500


def relay_outbox(store: Store, bus: Bus, limit: int = RELAY_BATCH, signer: Signer | None = None) -> int:
    """Publish up to ``limit`` unsent outbox messages, oldest first; return how many were sent.

    With a ``signer`` every message is signed as it leaves (the store keeps it unsigned), after it
    gained the fields the bus's wire format adds to every envelope (:meth:`Bus.envelope_fields`).

    The rows stay locked (``FOR UPDATE``, no SKIP LOCKED) while they are published, so relays in
    several processes take turns and never reorder a run's messages. A crash after publishing and
    before the commit sends those messages again: delivery is at least once.
    """
    fields = bus.envelope_fields()

    def publish(rows: list[tuple[str, bytes]]) -> None:
        bus.publish_many([(topic, _prepared(payload, fields, signer)) for topic, payload in rows])

    sent = outbox.send_unsent(store, limit, publish)
    if sent:
        log.debug("relayed %d messages", sent)
    return sent


def _prepared(payload: bytes, fields: Mapping[str, str], signer: Signer | None) -> bytes:
    if signer is None:
        return payload
    envelope = decode(payload)
    for name, value in fields.items():
        envelope.setdefault(name, value)
    return encode(signer.sign(envelope))


def relay_all(store: Store, bus: Bus, signer: Signer | None = None) -> int:
    """Relay until the outbox is empty; return how many messages were sent."""
    total = 0
    while sent := relay_outbox(store, bus, signer=signer):
        total += sent
    return total


def outbox_depth(store: Store) -> int:
    """How many committed messages have not been sent yet."""
    return outbox.depth(store)
