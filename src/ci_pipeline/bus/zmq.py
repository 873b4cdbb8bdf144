"""The fedmsg bus over ZeroMQ (``zmq://``), wire-compatible with fedmsg.

Publishing: each message is a two-frame multipart, the topic then the JSON envelope, as
``fedmsg.publish`` sends it (:mod:`.zmq_endpoints` for the URL and the socket). An unsigned envelope
gains fedmsg's ``username``; a signed one goes as signed (a field added after signing would break
its signature). Topics keep fedmsg's form, ``<topic_prefix>.<environment>.<...>``, which is how
``[bus] topic_prefix`` and ``environment`` already spell ours.

The relay adds ``username`` (:meth:`ZmqBus.envelope_fields`) before it signs, as fedmsg does.

ZeroMQ keeps nothing: a subscriber that is away, or not yet connected, misses what is published
meanwhile, and fedmsg itself promises no more. What ci-pipeline adds is that nothing is lost on
our side: the outbox marks a message sent only when ``publish_many`` returns, which it does only once
ZeroMQ took every message of the batch; a full queue (``high_water_mark``), or with
``unroutable=error`` a topic no subscriber listens to, raises BusError and the batch stays in the
outbox to be sent again (at least once, in order).

Consuming: one SUB socket per subscription, connected to every ``endpoint`` and subscribed to the
literal prefix of each topic glob, the glob itself checked on arrival. Received messages wait in this
process, leased to one fetch and delivered again after ``lease_seconds`` unless acked. There is no
log: :meth:`ZmqBus.replay` is not supported, the store's message log is.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import zmq

from ci_pipeline.bus.base import Bus, Delivery
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.bus.zmq_endpoints import Publisher, parse_zmq_url, publisher_for, release_publisher
from ci_pipeline.errors import BusError, MessageError
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.envelope import decode, encode

log = get_logger(__name__)

_GLOB_CHARACTERS = "*?["
_DRAIN_LIMIT = 10000


def literal_prefix(pattern: str) -> str:
    """The part of a topic glob before its first wildcard: what a ZeroMQ SUB socket can filter on."""
    cut = min((pattern.find(char) for char in _GLOB_CHARACTERS if char in pattern), default=len(pattern))
    return pattern[:cut]


@dataclass
class _Subscription:
    """One subscription's SUB socket and the messages it received that are not acked yet."""

    socket: zmq.Socket[bytes]
    topics: tuple[str, ...]
    waiting: deque[Delivery] = field(default_factory=deque)
    leased: dict[int, tuple[float, Delivery]] = field(default_factory=dict)


class ZmqBus(Bus):
    """A bus member on fedmsg's ZeroMQ sockets; see the module docstring for the guarantees."""

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        self.settings = parse_zmq_url(url, options)
        self._username = self.settings.username
        self._publisher: Publisher | None = None
        self._subscriptions: dict[str, _Subscription] = {}
        self._positions = count(1)

    # -- publishing --------------------------------------------------------------------------------

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Hand every message to ZeroMQ, in order; BusError (nothing marked sent) when it cannot."""
        publisher = self._open_publisher()
        frames = [(topic.encode("utf-8"), self._with_username(payload)) for topic, payload in messages]
        with publisher.lock:
            publisher.hear_subscriptions()
            publisher.await_subscribers(float(self.settings.options["subscriber_wait"]))
            unheard = sorted({topic.decode() for topic, _ in frames if not publisher.is_heard(topic)})
            if unheard:
                text = f"No subscriber of {publisher.endpoint} listens to topic(s) {', '.join(unheard)}"
                if self.settings.options["unroutable"] == "error":
                    raise BusError(f"{text}; the messages stay in the outbox until one does.")
                log.debug("%s; ZeroMQ drops them.", text)
            for index, (topic, payload) in enumerate(frames):
                try:
                    publisher.socket.send_multipart([topic, payload], flags=zmq.NOBLOCK)
                except zmq.Again as exc:
                    raise BusError(f"The zmq queue of {publisher.endpoint} is full after {index} of "
                                   f"{len(frames)} messages; the rest stay in the outbox.") from exc
                except zmq.ZMQError as exc:
                    raise BusError(f"Publishing on {publisher.endpoint} failed: {exc.strerror}.") from exc

    def envelope_fields(self) -> Mapping[str, str]:
        """fedmsg's ``username``: the relay adds it to every envelope before signing."""
        return {"username": self._username}

    def _open_publisher(self) -> Publisher:
        if not self.settings.publish_to:
            raise BusError(f"The bus {self._url} names no host:port to publish on; use zmq://HOST:PORT.")
        if self._publisher is None:
            self._publisher = publisher_for(self.settings)
        return self._publisher

    def _with_username(self, payload: bytes) -> bytes:
        # fedmsg puts the sender's user in every envelope; only an unsigned one can still gain it.
        try:
            envelope = decode(payload)
        except MessageError:
            return bytes(payload)
        if "username" in envelope or "signature" in envelope:
            return bytes(payload)
        envelope["username"] = self._username
        return encode(envelope)

    # -- consuming ---------------------------------------------------------------------------------

    def subscribe(self, subscription: str, topics: Sequence[str]) -> None:
        """Connect the subscription's SUB socket now, so that messages from here on are kept."""
        self._subscription(subscription, topics)

    def fetch(self, subscription: str, topics: Sequence[str], limit: int = 500) -> list[Delivery]:
        """Up to ``limit`` received and unacked messages, oldest first; waits ``fetch_wait`` for one."""
        state = self._subscription(subscription, topics)
        now = time.monotonic()
        expired = [position for position, (until, _) in state.leased.items() if until <= now]
        for position in sorted(expired, reverse=True):
            state.waiting.appendleft(state.leased.pop(position)[1])
        if not state.waiting:
            self._receive(state, wait=float(self.settings.options["fetch_wait"]))
        self._receive(state, wait=0.0)
        until = now + float(self.settings.options["lease_seconds"])
        found: list[Delivery] = []
        while state.waiting and len(found) < limit:
            delivery = state.waiting.popleft()
            state.leased[delivery.position] = (until, delivery)
            found.append(delivery)
        return found

    def ack(self, subscription: str, deliveries: Sequence[Delivery]) -> None:
        """Forget acked deliveries: they are never delivered again."""
        state = self._subscriptions.get(subscription)
        if state is not None:
            for delivery in deliveries:
                state.leased.pop(delivery.position, None)

    def pending(self, subscription: str, topics: Sequence[str]) -> int:
        """Messages received for the subscription and not acked yet (leased ones included)."""
        state = self._subscription(subscription, topics)
        self._receive(state, wait=0.0)
        return len(state.waiting) + len(state.leased)

    def replay(self, topics: Sequence[str] = ("*",), after: int = 0,
               limit: int | None = None) -> Iterator[Delivery]:
        """Not supported: ZeroMQ keeps no log of past messages."""
        raise BusError("replay is not supported by the zmq bus; use the store's message log.")

    def latest_position(self) -> int:
        """Always 0: ZeroMQ keeps no log, so there are no log positions."""
        return 0

    def for_another_thread(self) -> ZmqBus:
        """A bus for another thread: sockets belong to one thread (the publisher is shared safely)."""
        return ZmqBus(self._url, **self.settings.options)

    def close(self) -> None:
        """Close the SUB sockets (unacked messages are gone with them) and release the publisher."""
        for state in self._subscriptions.values():
            state.socket.close(linger=0)
        self._subscriptions.clear()
        if self._publisher is not None:
            release_publisher(self._publisher)
            self._publisher = None

    def _subscription(self, subscription: str, topics: Sequence[str]) -> _Subscription:
        state = self._subscriptions.get(subscription)
        if state is not None and state.topics == tuple(topics):
            return state
        if not self.settings.endpoints:
            raise BusError(f"The bus {self._url} names no endpoint to consume from; add ?endpoint=tcp://...")
        if state is None:
            socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
            socket.setsockopt(zmq.RCVHWM, int(self.settings.options["high_water_mark"]))
            socket.setsockopt(zmq.RECONNECT_IVL, int(float(self.settings.options["reconnect_delay"]) * 1000))
            socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
            try:
                for endpoint in self.settings.endpoints:
                    socket.connect(endpoint)
            except zmq.ZMQError as exc:
                socket.close(linger=0)
                raise BusError(f"The zmq bus cannot connect to {endpoint}: {exc.strerror}.") from exc
            state = self._subscriptions[subscription] = _Subscription(socket, ())
        for prefix in {literal_prefix(pattern) for pattern in state.topics} - \
                {literal_prefix(pattern) for pattern in topics}:
            state.socket.setsockopt(zmq.UNSUBSCRIBE, prefix.encode("utf-8"))
        for prefix in {literal_prefix(pattern) for pattern in topics}:
            state.socket.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8"))
        state.topics = tuple(topics)
        return state

    def _receive(self, state: _Subscription, *, wait: float) -> None:
        """Move what arrived on the SUB socket into the waiting queue; wait up to ``wait`` for one."""
        if wait and not state.socket.poll(int(wait * 1000)):
            return
        for _ in range(_DRAIN_LIMIT):
            try:
                frames = state.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                log.warning("dropping a zmq message of %d frames; fedmsg sends a topic and a body",
                            len(frames))
                continue
            topic = frames[0].decode("utf-8", errors="replace")
            if topic_matches(topic, state.topics):
                state.waiting.append(Delivery(next(self._positions), topic, frames[1], time.time()))
