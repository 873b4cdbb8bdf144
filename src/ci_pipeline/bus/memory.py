"""The in-memory bus member, for tests: the SQLite member's semantics without a file.

``memory://`` is a private log; ``memory://NAME`` is shared by every bus opened with that name in
this process, so that a publisher and a consumer built apart still meet. Thread-safe.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ci_pipeline.bus.base import Bus, Delivery
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.errors import BusError, ConfigError

_REPLAY_PAGE = 500


@dataclass
class _Subscription:
    """Where one subscription is: all positions <= cursor are done; leases and acks above it."""

    cursor: int = 0
    leases: dict[int, tuple[float, int]] = field(default_factory=dict)  # position -> (until, holder)
    acked: set[int] = field(default_factory=set)


@dataclass
class _Log:
    """The state one or more :class:`MemoryBus` objects share."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[Delivery] = field(default_factory=list)
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)


_NAMED_LOGS: dict[str, _Log] = {}
_NAMED_LOGS_LOCK = threading.Lock()
_HOLDER_IDS = itertools.count(1)


def _log_for(url: str) -> _Log:
    scheme, separator, name = url.partition("://")
    if scheme.lower() != "memory" or not separator or "/" in name.rstrip("/") or "?" in name:
        raise ConfigError(f"The bus URL {url!r} is not of the form memory:// or memory://NAME.")
    if not name.rstrip("/"):
        return _Log()
    with _NAMED_LOGS_LOCK:
        return _NAMED_LOGS.setdefault(name.rstrip("/"), _Log())


class MemoryBus(Bus):
    """A bus whose log lives in this process; leases end after ``lease_seconds`` or on close."""

    def __init__(
        self, url: str = "memory://", *, lease_seconds: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._log = _log_for(url)
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._holder = next(_HOLDER_IDS)
        self._closed = False

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Append ``(topic, payload)`` pairs to the log, in order."""
        self._check_open()
        now = self._clock()
        with self._log.lock:
            start = len(self._log.messages) + 1
            self._log.messages.extend(
                Delivery(start + offset, topic, bytes(payload), now)
                for offset, (topic, payload) in enumerate(messages)
            )

    def fetch(self, subscription: str, topics: Sequence[str], limit: int = 500) -> list[Delivery]:
        """Lease up to ``limit`` unacked messages matching ``topics``, oldest first."""
        self._check_open()
        if limit <= 0 or not topics:
            return []
        now = self._clock()
        with self._log.lock:
            state = self._log.subscriptions.setdefault(subscription, _Subscription())
            self._advance_cursor(state, topics)
            found: list[Delivery] = []
            messages = self._log.messages
            for index in range(state.cursor, len(messages)):
                if len(found) >= limit:
                    break
                message = messages[index]
                if self._is_available(state, message, topics, now):
                    state.leases[message.position] = (now + self._lease_seconds, self._holder)
                    found.append(message)
            return found

    def ack(self, subscription: str, deliveries: Sequence[Delivery]) -> None:
        """Mark ``deliveries`` done for ``subscription``; they never come to it again."""
        self._check_open()
        with self._log.lock:
            state = self._log.subscriptions.setdefault(subscription, _Subscription())
            for delivery in deliveries:
                if delivery.position > state.cursor:
                    state.acked.add(delivery.position)
                    state.leases.pop(delivery.position, None)

    def replay(
        self, topics: Sequence[str] = ("*",), after: int = 0, limit: int | None = None
    ) -> Iterator[Delivery]:
        """Yield stored messages matching ``topics`` with position > ``after``, oldest first."""
        self._check_open()
        remaining = limit
        index = max(after, 0)
        while remaining is None or remaining > 0:
            with self._log.lock:
                page = self._log.messages[index : index + _REPLAY_PAGE]
            if not page:
                return
            index += len(page)
            for message in page:
                if topic_matches(message.topic, topics):
                    yield message
                    if remaining is not None:
                        remaining -= 1
                        if remaining == 0:
                            return

    def latest_position(self) -> int:
        """The position of the newest message, 0 when the log is empty."""
        with self._log.lock:
            return len(self._log.messages)

    def pending(self, subscription: str, topics: Sequence[str]) -> int:
        """How many messages matching ``topics`` ``subscription`` has not acked yet."""
        with self._log.lock:
            state = self._log.subscriptions.get(subscription, _Subscription())
            messages = self._log.messages
            return sum(
                1
                for index in range(state.cursor, len(messages))
                if messages[index].position not in state.acked
                and topic_matches(messages[index].topic, topics)
            )

    def close(self) -> None:
        """Give back this bus's unacked leases at once, so another fetcher gets them."""
        with self._log.lock:
            for state in self._log.subscriptions.values():
                mine = [pos for pos, (_, holder) in state.leases.items() if holder == self._holder]
                for position in mine:
                    del state.leases[position]
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("The memory bus is closed; open a new one with open_bus().")

    def _advance_cursor(self, state: _Subscription, topics: Sequence[str]) -> None:
        # The cursor passes acked messages and those no topic matches, so later fetches start there.
        messages = self._log.messages
        while state.cursor < len(messages):
            message = messages[state.cursor]
            if message.position in state.acked:
                state.acked.discard(message.position)
            elif topic_matches(message.topic, topics):
                return
            state.leases.pop(message.position, None)
            state.cursor += 1

    def _is_available(
        self, state: _Subscription, message: Delivery, topics: Sequence[str], now: float
    ) -> bool:
        if message.position in state.acked or not topic_matches(message.topic, topics):
            return False
        lease = state.leases.get(message.position)
        return lease is None or lease[0] <= now
