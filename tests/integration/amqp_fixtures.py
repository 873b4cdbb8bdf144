"""Helpers of the RabbitMQ tests: a unique exchange and subscription per test, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pika

AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"


def delete_subscription(exchange: str, subscription: str) -> None:
    """Delete a subscription's queue, its dead-letter pair, and the exchange."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP))
    channel = connection.channel()
    for queue in (subscription, f"{subscription}.dead-letter"):
        channel.queue_delete(queue)
    for name in (exchange, f"{subscription}.dead-letter"):
        channel.exchange_delete(name)
    connection.close()


@contextmanager
def unique_names(prefix: str) -> Iterator[dict[str, str]]:
    """``exchange`` and ``subscription`` names no other test uses; deleted with their queues afterwards."""
    tag = uuid.uuid4().hex[:10]
    created = {"exchange": f"{prefix}-{tag}", "subscription": f"{prefix}-sub-{tag}"}
    try:
        yield created
    finally:
        delete_subscription(created["exchange"], created["subscription"])
