"""Subscriptions on AMQP: a durable named queue per subscription, bound to topic patterns.

Our topic patterns are globs in which ``*`` matches dots too; an AMQP binding key matches whole
words (``*`` one word, ``#`` any number). A glob word holding a wildcard binds as ``#`` (a superset)
and each delivery is then checked against the glob itself; one that does not match is acked away.
Each queue dead-letters to a fanout exchange ``<subscription>.dead-letter`` with a durable queue of
the same name, where :meth:`SubscriptionConsumer.reject` sends messages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import pika.spec
from pika.adapters.blocking_connection import BlockingChannel

from ci_pipeline.bus.amqp_wire import decode
from ci_pipeline.bus.base import Delivery
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

_GLOB_CHARACTERS = frozenset("*?[")


def binding_key(pattern: str) -> str:
    """The AMQP binding key that matches every topic the glob ``pattern`` matches (and maybe more)."""
    words: list[str] = []
    for word in pattern.split("."):
        word = "#" if _GLOB_CHARACTERS & set(word) else word
        if not (word == "#" and words and words[-1] == "#"):
            words.append(word)
    return ".".join(words)


def dead_letter_name(subscription: str) -> str:
    """The name of a subscription's dead-letter exchange and queue."""
    return f"{subscription}.dead-letter"


def declare_subscription(channel: BlockingChannel, exchange: str, subscription: str,
                         topics: Sequence[str]) -> int:
    """Declare the subscription's queue, its dead-letter exchange and queue, and its bindings.

    Returns the number of messages ready in the queue. Declaring is idempotent.
    """
    dead = dead_letter_name(subscription)
    channel.exchange_declare(dead, exchange_type="fanout", durable=True)
    channel.queue_declare(dead, durable=True)
    channel.queue_bind(dead, dead)
    declared = channel.queue_declare(subscription, durable=True, arguments={"x-dead-letter-exchange": dead})
    for key in sorted({binding_key(pattern) for pattern in topics}):
        channel.queue_bind(subscription, exchange, routing_key=key)
    method = declared.method
    assert isinstance(method, pika.spec.Queue.DeclareOk)
    return int(method.message_count)


class SubscriptionConsumer:
    """One subscription's consumer on a channel: delivered messages wait in a buffer until fetched."""

    def __init__(self, channel: BlockingChannel, subscription: str, topics: Sequence[str]) -> None:
        self.subscription = subscription
        self.topics = tuple(topics)
        self._channel = channel
        self._buffer: deque[Delivery] = deque()
        self._leased: dict[int, Delivery] = {}
        channel.basic_consume(subscription, self._on_message)

    @property
    def in_flight(self) -> int:
        """Messages delivered to this process and not acked yet (buffered or fetched)."""
        return len(self._buffer) + len(self._leased)

    @property
    def buffered(self) -> int:
        """Messages delivered to this process and not fetched yet."""
        return len(self._buffer)

    def take(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` buffered deliveries, oldest first; they stay unacked until :meth:`ack`."""
        taken: list[Delivery] = []
        while self._buffer and len(taken) < limit:
            delivery = self._buffer.popleft()
            self._leased[delivery.position] = delivery
            taken.append(delivery)
        return taken

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Ack fetched deliveries by delivery tag; returns how many were acked.

        A delivery fetched on an earlier channel (before a reconnect) is skipped: the broker
        delivers it again, and its tag may now name another message.
        """
        return self._settle(deliveries, requeue=None)

    def reject(self, deliveries: Sequence[Delivery]) -> int:
        """Send fetched deliveries to the dead-letter queue; returns how many were rejected."""
        return self._settle(deliveries, requeue=False)

    def _settle(self, deliveries: Sequence[Delivery], requeue: bool | None) -> int:
        current: list[int] = []
        for delivery in deliveries:
            if self._leased.get(delivery.position) != delivery:
                log.debug("Delivery %d of %s is from an earlier channel; the broker will deliver it again.",
                          delivery.position, self.subscription)
                continue
            del self._leased[delivery.position]
            current.append(delivery.position)
        if requeue is None and current and self._nothing_unsettled_below(max(current)):
            # One frame for the whole batch: every delivery up to the highest tag is being acked.
            self._channel.basic_ack(max(current), multiple=True)
            return len(current)
        for tag in current:
            if requeue is None:
                self._channel.basic_ack(tag)
            else:
                self._channel.basic_nack(tag, requeue=requeue)
        return len(current)

    def _nothing_unsettled_below(self, tag: int) -> bool:
        leased_below = any(other < tag for other in self._leased)
        buffered_below = bool(self._buffer) and self._buffer[0].position < tag
        return not leased_below and not buffered_below

    def _on_message(self, channel: BlockingChannel, method: pika.spec.Basic.Deliver,
                    properties: pika.spec.BasicProperties, body: bytes) -> None:
        tag = int(method.delivery_tag)
        topic = str(method.routing_key)
        if not topic_matches(topic, self.topics):
            # Bound only through a wider binding key (or an older binding): not for this subscription.
            channel.basic_ack(tag)
            return
        payload, published_at = decode(topic, properties, body)
        self._buffer.append(Delivery(position=tag, topic=topic, payload=payload, published_at=published_at))
