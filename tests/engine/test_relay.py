"""The outbox relay: committed messages reach the bus in order, once marked sent, and signed if asked."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from ci_pipeline.bus.base import Bus
from ci_pipeline.engine.relay import outbox_depth, relay_all, relay_outbox
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import OutboxMessage

TOPIC = "org.centos.prod.ci.pipeline.complete"


def _commit(store: Store, count: int) -> None:
    with store.session() as session:
        for number in range(count):
            fields = {"build_id": str(number)}
            session.add(OutboxMessage(run_id=1, topic=TOPIC, payload=json.dumps({"msg": fields}).encode()))


def test_messages_go_out_in_order_in_batches_and_once(store: Store, bus: Bus) -> None:
    _commit(store, 5)
    assert outbox_depth(store) == 5
    assert relay_outbox(store, bus, limit=2) == 2
    assert outbox_depth(store) == 3
    assert relay_all(store, bus) == 3
    assert relay_all(store, bus) == 0
    sent = [json.loads(delivery.payload)["msg"]["build_id"] for delivery in bus.replay()]
    assert sent == ["0", "1", "2", "3", "4"]
    with store.session() as session:
        assert all(session.scalars(select(OutboxMessage.sent_at)))


class _Stamp:
    """A signer that marks what it signed."""

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return {**envelope, "crypto": "x509"}


def test_a_signer_signs_each_message_as_it_leaves_and_the_store_keeps_it_unsigned(
    store: Store, bus: Bus
) -> None:
    _commit(store, 1)
    assert relay_all(store, bus, signer=_Stamp()) == 1
    (delivery,) = bus.replay()
    assert json.loads(delivery.payload)["crypto"] == "x509"
    with store.session() as session:
        stored = session.scalars(select(OutboxMessage.payload)).one()
    assert "crypto" not in json.loads(stored)
