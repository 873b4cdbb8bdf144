"""Publishing with publisher confirms, many messages in flight, one wait per batch.

pika's ``BlockingChannel`` waits for the broker's confirm of each message before it sends the next:
one round trip per message. This publisher drives the channel underneath it (``pika.channel.Channel``,
whose ``basic_publish`` only queues frames) and collects ``Basic.Ack``/``Basic.Nack`` as they come,
so a batch costs one wait. Messages are ``mandatory``: one the broker cannot route is returned and
reported by topic.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pika
import pika.channel
import pika.frame
import pika.spec
from pika.adapters.blocking_connection import BlockingConnection

from ci_pipeline.bus.amqp_wire import WireMessage
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

#: How many messages are queued between two turns of the I/O loop, so frames keep flowing.
PUMP_EVERY = 256


def _nothing() -> None:
    """A callback that only wakes the I/O loop."""


class ConfirmTimeout(Exception):
    """The broker did not confirm a batch in time; the connection is treated as lost."""


@dataclass
class BatchProgress:
    """How far a batch got: every message before ``confirmed`` is confirmed by the broker."""

    confirmed: int = 0
    unroutable: list[str] = field(default_factory=list)
    nacked: int = 0


class ConfirmingPublisher:
    """Publishes batches on one channel in confirm mode; built per connection."""

    def __init__(self, connection: BlockingConnection, exchange: str, confirm_timeout: float) -> None:
        self._connection = connection
        self._exchange = exchange
        self._confirm_timeout = confirm_timeout
        # The blocking wrapper waits per message; its underlying channel does not (see module docstring).
        self._channel: pika.channel.Channel = connection.channel()._impl
        self._next_tag = 1
        self._outstanding: dict[int, int] = {}  # delivery tag -> index in the batch
        self._nacked: set[int] = set()
        self._returned: list[str] = []
        self._channel.add_on_return_callback(self._on_return)
        selected: list[bool] = []

        def on_selected(_frame: object) -> None:
            selected.append(True)
            self._wake()

        self._channel.confirm_delivery(self._on_confirm, callback=on_selected)
        self._wait_until(lambda: bool(selected), "enable publisher confirms")

    def publish(self, messages: Sequence[WireMessage], progress: BatchProgress) -> None:
        """Publish ``messages[progress.confirmed:]`` and wait until the broker confirmed them all.

        ``progress.confirmed`` moves forward as confirms arrive, so that after a lost connection the
        caller resumes with the unconfirmed tail; nacked messages are counted in ``progress.nacked``
        and ``progress.confirmed`` stops before the first of them.
        """
        start = progress.confirmed
        tags: list[int] = []
        try:
            for index in range(start, len(messages)):
                message = messages[index]
                self._channel.basic_publish(self._exchange, message.routing_key, message.body,
                                            message.properties, mandatory=True)
                tags.append(self._next_tag)
                self._outstanding[self._next_tag] = index
                self._next_tag += 1
                if len(tags) % PUMP_EVERY == 0:
                    self._connection.process_data_events(time_limit=0)
            self._wait_until(lambda: not self._outstanding, "confirm the published messages")
        finally:
            # Also on a lost connection: the caller resumes after the confirmed prefix.
            progress.confirmed = start + self._settled_prefix(tags)
        nacked = [tag for tag in tags if tag in self._nacked]
        self._nacked.difference_update(nacked)
        progress.nacked = len(nacked)
        progress.unroutable, self._returned = self._returned, []

    def _settled_prefix(self, tags: list[int]) -> int:
        """How many of ``tags``, from the first, the broker has acked."""
        settled = 0
        unsettled = self._outstanding.keys() | self._nacked
        while settled < len(tags) and tags[settled] not in unsettled:
            settled += 1
        return settled

    def _wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._confirm_timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfirmTimeout(f"The broker did not {what} within {self._confirm_timeout:g} s.")
            self._connection.process_data_events(time_limit=min(remaining, 1.0))

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        assert isinstance(method, pika.spec.Basic.Ack | pika.spec.Basic.Nack)
        tag = method.delivery_tag
        # Tags are kept in publishing order, so a multiple ack settles a prefix.
        settled = [tag]
        if method.multiple:
            settled = list(itertools.takewhile(lambda t: t <= tag, self._outstanding))
        for settled_tag in settled:
            self._outstanding.pop(settled_tag, None)
            if isinstance(method, pika.spec.Basic.Nack):
                self._nacked.add(settled_tag)
        if not self._outstanding:
            self._wake()

    def _wake(self) -> None:
        """End the current ``process_data_events`` early: its own stop test only sees channel events."""
        self._connection.add_callback_threadsafe(_nothing)

    def _on_return(self, _channel: pika.channel.Channel, method: pika.spec.Basic.Return,
                   _properties: pika.spec.BasicProperties, _body: bytes) -> None:
        log.warning("The broker returned a message for topic %s: %s", method.routing_key, method.reply_text)
        self._returned.append(str(method.routing_key))
