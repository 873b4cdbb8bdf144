"""The bus interface every member implements.

A bus carries ``(topic, payload)`` pairs: the payload is the raw bytes of a message, usually a JSON
fedmsg envelope, kept as received so that a malformed message can still be dead-lettered whole.
Delivery to a subscription is at least once: a delivered message comes again until it is acked.
Members are registered by URL scheme in :mod:`ci_pipeline.bus` and built as ``Member(url, **options)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as a subscriber or a replay sees it."""

    position: int
    topic: str
    payload: bytes
    published_at: float


class Bus(ABC):
    """A durable topic bus with named subscriptions.

    Required: :meth:`publish_many`, :meth:`fetch`, :meth:`ack`, :meth:`replay`,
    :meth:`latest_position`, :meth:`pending`.
    Optional (defaults given): :meth:`publish`, :meth:`close`.
    """

    @abstractmethod
    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Required. Publish ``(topic, payload)`` pairs durably and in order, all or none."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Optional. Publish one message; by default a batch of one."""
        self.publish_many([(topic, payload)])

    @abstractmethod
    def fetch(
        self, subscription: str, topics: Sequence[str], limit: int = 500
    ) -> list[Delivery]:
        """Required. Up to ``limit`` unacked messages for ``subscription``, oldest first.

        ``topics`` are glob patterns (``*`` matches dots too). A subscription is created on first
        use and starts at the beginning of the stored log. Several processes may fetch from one
        subscription at once: each message is leased to one fetcher, and a message whose lease
        ends unacked (the fetcher died, or ``lease_seconds`` passed) is delivered again.
        """

    @abstractmethod
    def ack(self, subscription: str, deliveries: Sequence[Delivery]) -> None:
        """Required. Mark deliveries as handled: they are never delivered to ``subscription`` again."""

    @abstractmethod
    def replay(
        self, topics: Sequence[str] = ("*",), after: int = 0, limit: int | None = None
    ) -> Iterator[Delivery]:
        """Required. Every stored message matching ``topics`` with position > ``after``, oldest first."""

    @abstractmethod
    def latest_position(self) -> int:
        """Required. The position of the newest stored message, 0 when the log is empty."""

    @abstractmethod
    def pending(self, subscription: str, topics: Sequence[str]) -> int:
        """Required. How many messages matching ``topics`` ``subscription`` has not acked yet.

        Leased (in-flight) messages count as pending; a subscription not used yet has the whole log.
        """

    def for_another_thread(self) -> Bus:
        """Optional. A bus another thread can use alongside this one.

        The default, ``self``, suits members that are thread-safe; a member whose connection is
        not (a blocking AMQP connection) returns a new connection to the same place.
        """
        return self

    def envelope_fields(self) -> Mapping[str, str]:
        """Optional. Fields this bus's wire format puts in every envelope (fedmsg's ``username``).

        The relay adds those an envelope lacks before it signs, so a signature covers them.
        """
        return {}

    def subscribe(self, subscription: str, topics: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Optional. Make sure ``subscription`` exists and keeps messages of ``topics`` from now on.

        Members whose subscriptions read a stored log need nothing here (the default); a broker
        member declares its queue and bindings, so that publishes before the first fetch are kept.
        """

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Optional. Release connections and files."""
