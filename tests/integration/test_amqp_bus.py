"""The AMQP bus against the RabbitMQ at 127.0.0.1:5672: publish, fetch, ack, pending, dead letters."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from amqp_fixtures import AMQP, unique_names

from ci_pipeline.bus import open_bus
from ci_pipeline.bus.amqp import AmqpBus
from ci_pipeline.bus.base import Delivery
from ci_pipeline.errors import BusError

pytestmark = pytest.mark.integration

URL = AMQP
TOPIC = "org.centos.prod.ci.pipeline.package.running"


def envelope(n: int, topic: str = TOPIC) -> bytes:
    return json.dumps(
        {
            "i": n,
            "timestamp": 1700000000 + n,
            "msg_id": f"2023-{uuid.uuid4()}",
            "topic": topic,
            "msg": {"n": n},
        }
    ).encode()


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """A unique exchange and subscription; both, and the dead-letter pair, are deleted afterwards."""
    with unique_names("ci-test") as created:
        yield created


def fetch_all(
    bus: AmqpBus, subscription: str, topics: list[str], count: int, timeout: float = 10.0
) -> list[Delivery]:
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += bus.fetch(subscription, topics, limit=count - len(got))
    return got


def payloads(deliveries: list[Delivery]) -> list[Any]:
    return [json.loads(d.payload)["msg"]["n"] for d in deliveries]


def test_published_batch_is_fetched_in_order_and_acked(names: dict[str, str]) -> None:
    bus = open_bus(URL, exchange=names["exchange"])
    assert isinstance(bus, AmqpBus)
    sub = names["subscription"]
    assert bus.fetch(sub, ["org.centos.*"]) == []

    bus.publish_many([(TOPIC, envelope(n)) for n in range(50)])
    got = fetch_all(bus, sub, ["org.centos.*"], 50)

    assert payloads(got) == list(range(50))
    assert [d.position for d in got] == list(range(1, 51))
    assert got[0].topic == TOPIC and got[0].published_at == 1700000000
    assert bus.pending(sub, ["org.centos.*"]) == 50
    bus.ack(sub, got)
    assert bus.pending(sub, ["org.centos.*"]) == 0
    bus.close()


def test_unacked_messages_come_again_after_a_reconnect(names: dict[str, str]) -> None:
    bus = AmqpBus(URL, exchange=names["exchange"])
    sub = names["subscription"]
    bus.fetch(sub, ["*"])
    bus.publish_many([(TOPIC, envelope(n)) for n in range(3)])
    first = fetch_all(bus, sub, ["*"], 3)
    bus.close()

    again = fetch_all(bus, sub, ["*"], 3)
    # A delivery tag of the old channel that now names another message is skipped, not misapplied.
    bus.ack(sub, [Delivery(position=1, topic=TOPIC, payload=b"another message", published_at=0.0)])

    assert payloads(again) == payloads(first) == [0, 1, 2]
    assert bus.pending(sub, ["*"]) == 3
    bus.ack(sub, first)  # the same messages, delivered again: acking either copy settles them
    assert bus.pending(sub, ["*"]) == 0
    bus.close()


def test_only_matching_topics_are_delivered(names: dict[str, str]) -> None:
    bus = AmqpBus(URL, exchange=names["exchange"])
    sub = names["subscription"]
    bus.fetch(sub, ["org.centos.*.complete"])
    bus.fetch("ci-test-catchall-" + sub[-10:], ["#"])  # keeps every topic routable
    try:
        complete = "org.centos.prod.ci.pipeline.package.complete"
        bus.publish_many([(TOPIC, envelope(0)), (complete, envelope(1, complete)), (TOPIC, envelope(2))])

        got = fetch_all(bus, sub, ["org.centos.*.complete"], 1)
        time.sleep(0.2)
        assert [d.topic for d in got + bus.fetch(sub, ["org.centos.*.complete"])] == [complete]
    finally:
        bus._channel().queue_delete("ci-test-catchall-" + sub[-10:])
        bus._channel().queue_delete("ci-test-catchall-" + sub[-10:] + ".dead-letter")
        bus._channel().exchange_delete("ci-test-catchall-" + sub[-10:] + ".dead-letter")
        bus.close()


def test_rejected_messages_go_to_the_dead_letter_queue(names: dict[str, str]) -> None:
    bus = AmqpBus(URL, exchange=names["exchange"])
    sub = names["subscription"]
    bus.fetch(sub, ["*"])
    bus.publish(TOPIC, b"not an envelope at all")
    [delivery] = fetch_all(bus, sub, ["*"], 1)
    assert delivery.payload == b"not an envelope at all"

    bus.reject(sub, [delivery])

    connection = pika.BlockingConnection(pika.URLParameters(URL))
    dead = None
    deadline = time.monotonic() + 5
    while dead is None and time.monotonic() < deadline:
        _method, _properties, dead = connection.channel().basic_get(f"{sub}.dead-letter", auto_ack=True)
    connection.close()
    assert dead == b"not an envelope at all"
    assert bus.pending(sub, ["*"]) == 0
    bus.close()


def test_unroutable_topic_raises_bus_error_naming_it(names: dict[str, str]) -> None:
    bus = AmqpBus(URL, exchange=names["exchange"], unroutable="error")
    with pytest.raises(BusError, match=r"nobody\.listens\.here"):
        bus.publish_many([("nobody.listens.here", envelope(0))])
    bus.close()


def test_unroutable_topic_is_logged_by_default(
    names: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    bus = AmqpBus(URL, exchange=names["exchange"])
    bus.publish_many([("nobody.listens.here", envelope(0))])
    assert "nobody.listens.here" in caplog.text
    bus.close()


def test_fedmsg_envelope_mode_carries_the_whole_envelope(names: dict[str, str]) -> None:
    bus = AmqpBus(URL + "?envelope=fedmsg", exchange=names["exchange"])
    sub = names["subscription"]
    bus.fetch(sub, ["*"])
    original = {
        "i": 7,
        "timestamp": 1700000007,
        "msg_id": f"2023-{uuid.uuid4()}",
        "topic": TOPIC,
        "msg": {"n": 7},
        "crypto": "x509",
        "signature": "c2ln\n",
        "certificate": "Y2VydA==\n",
    }
    bus.publish(TOPIC, json.dumps(original).encode())

    [delivery] = fetch_all(bus, sub, ["*"], 1)

    assert json.loads(delivery.payload) == original
    bus.ack(sub, [delivery])
    bus.close()


def test_unreachable_broker_is_a_bus_error_after_bounded_retries() -> None:
    bus = AmqpBus("amqp://guest:guest@127.0.0.1:1/%2F", reconnect_attempts=2, reconnect_delay=0.01)
    started = time.monotonic()
    with pytest.raises(BusError, match="unreachable through 2 attempts"):
        bus.publish(TOPIC, envelope(0))
    assert time.monotonic() - started < 10


def test_wrong_password_is_a_bus_error_without_retries() -> None:
    bus = AmqpBus("amqp://guest:wrong@127.0.0.1:5672/%2F", reconnect_attempts=5, reconnect_delay=5)
    started = time.monotonic()
    with pytest.raises(BusError, match="refused the login"):
        bus.fetch("ci-test-never", ["*"])
    assert time.monotonic() - started < 5
