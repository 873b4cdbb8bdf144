"""The RabbitMQ bus (AMQP 0-9-1), wire-compatible with fedora-messaging.

Publishing: to a topic exchange (``amq.topic`` unless ``exchange`` is given; another name is declared
durable) with the topic as routing key, in fedora-messaging's format (:mod:`.amqp_wire`), or the whole
fedmsg envelope with ``envelope="fedmsg"``. A batch is sent with publisher confirms and one wait
(:mod:`.amqp_publisher`); after a lost connection the unconfirmed tail is sent again (at least once, in
order). A message no queue is bound for is returned by the broker (``mandatory``) and the batch raises
:class:`~ci_pipeline.errors.BusError` naming its topic; to keep such messages instead, give the exchange
an alternate exchange with a RabbitMQ policy (the broker then routes rather than returns them).

Consuming: a subscription is a durable queue of that name, bound to its topics, with a dead-letter
queue (:mod:`.amqp_consumer`). Messages stay unacked until :meth:`AmqpBus.ack`; a broker (unlike the
SQLite bus) keeps no log, so :meth:`AmqpBus.replay` is not supported: the store's message log is.

Options, as keyword arguments or in the URL's query (``amqp://host/%2F?exchange=ci&prefetch=100``):
``exchange``, ``envelope`` (``fedora-messaging`` | ``fedmsg``), ``schema`` (``base.message``),
``prefetch`` (500), ``confirm_timeout`` (30 s), ``reconnect_attempts`` (5), ``reconnect_delay``
(0.5 s, doubled per attempt up to 8 s), ``fetch_wait`` (0.05 s of quiet that ends a fetch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from ci_pipeline.bus.amqp_consumer import SubscriptionConsumer, declare_subscription
from ci_pipeline.bus.amqp_publisher import BatchProgress, ConfirmingPublisher, ConfirmTimeout
from ci_pipeline.bus.amqp_wire import BASE_SCHEMA, WireMessage, encode
from ci_pipeline.bus.base import Bus, Delivery
from ci_pipeline.errors import BusError, ConfigError
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

T = TypeVar("T")

DEFAULT_OPTIONS: dict[str, Any] = {
    "exchange": "amq.topic",
    "envelope": "fedora-messaging",
    "schema": BASE_SCHEMA,
    "prefetch": 500,
    "confirm_timeout": 30.0,
    "reconnect_attempts": 5,
    "reconnect_delay": 0.5,
    "fetch_wait": 0.05,
    # What a message no queue is bound for does: "warn" logs it and goes on (the broker drops it),
    # "error" raises BusError. A service's own topics often have no listener yet; that is no fault.
    "unroutable": "warn",
}
MAX_RECONNECT_DELAY = 8.0

# Errors after which a new connection may succeed; a refused login is final. (pika reports a
# connection reset during the handshake as IncompatibleProtocolError, so that one is retried.)
_RETRYABLE = (pika.exceptions.AMQPConnectionError, pika.exceptions.ChannelWrongStateError, ConfirmTimeout)
_FINAL = (pika.exceptions.ProbableAuthenticationError, pika.exceptions.ProbableAccessDeniedError,
          pika.exceptions.AuthenticationError)


def split_url(url: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL for pika (our options taken out of its query) and the options, typed and complete."""
    parts = urlsplit(url)
    ours = {key: value for key, value in parse_qsl(parts.query) if key in DEFAULT_OPTIONS}
    theirs = [(key, value) for key, value in parse_qsl(parts.query) if key not in DEFAULT_OPTIONS]
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise ConfigError(f"Unknown AMQP bus option(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(DEFAULT_OPTIONS)}.")
    merged: dict[str, Any] = dict(DEFAULT_OPTIONS)
    for key, raw in {**ours, **options}.items():
        try:
            merged[key] = type(DEFAULT_OPTIONS[key])(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"The AMQP bus option {key}={raw!r} is not a valid value: {exc}.") from exc
    if merged["envelope"] not in ("fedora-messaging", "fedmsg"):
        raise ConfigError(f"The AMQP bus option envelope={merged['envelope']!r} must be "
                          "'fedora-messaging' or 'fedmsg'.")
    return urlunsplit(parts._replace(query=urlencode(theirs))), merged


def check_subscription_name(subscription: str) -> None:
    """Refuse a subscription name that cannot name a queue (empty, too long, or ``amq.``-reserved)."""
    if not subscription or len(subscription.encode("utf-8")) > 200 or subscription.startswith("amq."):
        raise BusError(f"The subscription name {subscription!r} cannot name an AMQP queue; use 1 to 200 "
                       "bytes that do not start with 'amq.'.")


class AmqpBus(Bus):
    """A bus on a RabbitMQ broker; see the module docstring for the wire format and options."""

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        pika_url, self.options = split_url(url, options)
        try:
            self._parameters = pika.URLParameters(pika_url)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"The AMQP URL {url!r} is not valid: {exc}.") from exc
        self._where = f"{self._parameters.host}:{self._parameters.port}"
        self.exchange: str = self.options["exchange"]
        self._connection: BlockingConnection | None = None
        self._publisher: ConfirmingPublisher | None = None
        self._consume_channel: BlockingChannel | None = None
        self._consumers: dict[str, SubscriptionConsumer] = {}

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish with confirms; returns once the broker confirmed every message (at least once)."""
        whole = self.options["envelope"] == "fedmsg"
        wires = [encode(topic, payload, whole_envelope=whole, schema=self.options["schema"])
                 for topic, payload in messages]
        progress = BatchProgress()
        while True:
            self._with_retries("publish messages", lambda: self._publish(wires, progress))
            if progress.unroutable:
                topics = ", ".join(sorted(set(progress.unroutable)))
                text = (f"No queue is bound on exchange {self.exchange} for topic(s) {topics}; "
                        "bind a subscriber or give the exchange an alternate exchange.")
                if self.options["unroutable"] == "error":
                    raise BusError(text)
                log.warning("%s %d message(s) were not delivered.", text, len(progress.unroutable))
                progress.unroutable.clear()
            if progress.confirmed >= len(wires):
                return
            log.warning("The broker refused (nacked) %d message(s); publishing them again.", progress.nacked)

    def fetch(self, subscription: str, topics: Sequence[str], limit: int = 500) -> list[Delivery]:
        """Up to ``limit`` unacked messages of the subscription's queue, in the order delivered."""
        return self._with_retries(f"fetch messages for {subscription}",
                                  lambda: self._fetch(subscription, topics, limit))

    def ack(self, subscription: str, deliveries: Sequence[Delivery]) -> None:
        """Ack deliveries by delivery tag; ones fetched before a reconnect come again instead."""
        self._settle(subscription, deliveries, SubscriptionConsumer.ack)

    def reject(self, subscription: str, deliveries: Sequence[Delivery]) -> None:
        """Move deliveries to the subscription's dead-letter queue, ``<subscription>.dead-letter``."""
        self._settle(subscription, deliveries, SubscriptionConsumer.reject)

    def replay(self, topics: Sequence[str] = ("*",), after: int = 0,
               limit: int | None = None) -> Iterator[Delivery]:
        """Not supported: a broker keeps no log of past messages."""
        raise BusError("replay is not supported by the AMQP bus; use the store's message log.")

    def latest_position(self) -> int:
        """Always 0: the broker keeps no log, so there are no log positions."""
        return 0

    def for_another_thread(self) -> AmqpBus:
        """A new connection with the same settings: a blocking connection belongs to one thread."""
        return AmqpBus(self._url, **self.options)

    def subscribe(self, subscription: str, topics: Sequence[str]) -> None:
        """Declare the subscription's queue, dead-letter queue and bindings."""
        check_subscription_name(subscription)
        self._with_retries(
            f"declare the subscription {subscription}",
            lambda: declare_subscription(self._channel(), self.exchange, subscription, topics),
        )

    def pending(self, subscription: str, topics: Sequence[str]) -> int:
        """Messages ready in the subscription's queue plus those delivered here and not acked yet.

        Messages leased to other processes are not counted (the broker reports only ready ones).
        """
        check_subscription_name(subscription)

        def count() -> int:
            ready = declare_subscription(self._channel(), self.exchange, subscription, topics)
            consumer = self._consumers.get(subscription)
            return ready + (consumer.in_flight if consumer else 0)
        return self._with_retries(f"count the messages of {subscription}", count)

    def close(self) -> None:
        """Close the connection; unacked deliveries go back to their queues."""
        connection, self._connection = self._connection, None
        self._forget_channels()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError as exc:
                log.debug("Closing the AMQP connection failed: %s", exc)

    # -- connection handling ------------------------------------------------------------------

    def _settle(self, subscription: str, deliveries: Sequence[Delivery],
                settle: Callable[[SubscriptionConsumer, Sequence[Delivery]], int]) -> None:
        consumer = self._consumers.get(subscription)
        if consumer is None or not deliveries:
            return
        try:
            settle(consumer, deliveries)
        except pika.exceptions.ChannelClosedByBroker as exc:
            self.close()
            raise BusError(f"The AMQP broker at {self._where} refused to settle messages of {subscription}: "
                           f"{exc.reply_code} {exc.reply_text}.") from exc
        except _RETRYABLE as exc:
            # Not retried: the broker delivers unsettled messages again on the next connection.
            self.close()
            log.warning("AMQP connection to %s lost while settling messages of %s (%r); "
                        "they will be delivered again.", self._where, subscription, exc)

    def _with_retries(self, what: str, operation: Callable[[], T]) -> T:
        attempts = max(1, int(self.options["reconnect_attempts"]))
        delay = float(self.options["reconnect_delay"])
        for attempt in range(1, attempts + 1):
            try:
                return operation()
            except _FINAL as exc:
                self.close()
                raise BusError(f"The AMQP broker at {self._where} refused the login to {what}: {exc!r}; "
                               "check the user, password and virtual host in the bus URL.") from exc
            except pika.exceptions.ChannelClosedByBroker as exc:
                self.close()
                raise BusError(f"The AMQP broker at {self._where} refused to {what}: "
                               f"{exc.reply_code} {exc.reply_text}.") from exc
            except _RETRYABLE as exc:
                self.close()
                if attempt == attempts:
                    raise BusError(f"Could not {what}: the AMQP broker at {self._where} was unreachable "
                                   f"through {attempts} attempts ({exc!r}).") from exc
                log.warning("AMQP connection to %s lost while trying to %s (%r); retrying in %.1f s.",
                            self._where, what, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY)
        raise AssertionError("unreachable")

    def _connect(self) -> BlockingConnection:
        if self._connection is None or not self._connection.is_open:
            self._forget_channels()
            self._connection = BlockingConnection(self._parameters)
            if not self.exchange.startswith("amq."):
                channel = self._connection.channel()
                channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        return self._connection

    def _forget_channels(self) -> None:
        self._publisher = None
        self._consume_channel = None
        self._consumers.clear()

    def _channel(self) -> BlockingChannel:
        if self._consume_channel is None or not self._consume_channel.is_open:
            channel = self._connect().channel()
            channel.basic_qos(prefetch_count=int(self.options["prefetch"]))
            self._consume_channel = channel
            self._consumers.clear()
        return self._consume_channel

    def _publish(self, wires: Sequence[WireMessage], progress: BatchProgress) -> None:
        connection = self._connect()
        if self._publisher is None:
            timeout = float(self.options["confirm_timeout"])
            self._publisher = ConfirmingPublisher(connection, self.exchange, timeout)
        self._publisher.publish(wires, progress)

    def _fetch(self, subscription: str, topics: Sequence[str], limit: int) -> list[Delivery]:
        channel = self._channel()
        consumer = self._consumers.get(subscription)
        if consumer is None or consumer.topics != tuple(topics):
            check_subscription_name(subscription)
            declare_subscription(channel, self.exchange, subscription, topics)
            if consumer is None:
                consumer = SubscriptionConsumer(channel, subscription, topics)
                self._consumers[subscription] = consumer
            consumer.topics = tuple(topics)
        connection = self._connect()
        # Deliveries come as the prefetch window allows; stop after a quiet fetch_wait.
        while consumer.buffered < limit:
            before = consumer.buffered
            connection.process_data_events(time_limit=float(self.options["fetch_wait"]))
            if consumer.buffered == before:
                break
        return consumer.take(limit)
