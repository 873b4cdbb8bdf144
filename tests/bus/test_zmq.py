"""The fedmsg bus member on real ZeroMQ sockets over loopback TCP."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.bus import open_bus
from ci_pipeline.bus.base import Bus, Delivery
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.bus.zmq import ZmqBus, literal_prefix
from ci_pipeline.errors import BusError, ConfigError
from ci_pipeline.messages.envelope import decode, encode, make_envelope

TOPIC = "org.centos.prod.ci.pipeline.package.queued"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def endpoint() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def open_zmq() -> Iterator[Callable[..., ZmqBus]]:
    opened: list[Bus] = []

    def open_member(url: str, **options: object) -> ZmqBus:
        bus = open_bus(url, **options)
        assert isinstance(bus, ZmqBus)
        opened.append(bus)
        return bus

    yield open_member
    for bus in opened:
        bus.close()


def fetch_until(bus: Bus, subscription: str, topics: list[str], count: int,
                timeout: float = 5.0) -> list[Delivery]:
    """Fetch until ``count`` deliveries arrived or ``timeout`` passed."""
    found: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        found += bus.fetch(subscription, topics)
    return found


def publish_when_heard(publisher: Bus, messages: list[tuple[str, bytes]], timeout: float = 5.0) -> None:
    """Publish once a subscriber's subscription reached the publisher (``unroutable=error``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            publisher.publish_many(messages)
            return
        except BusError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_published_envelopes_arrive_as_fedmsg_frames_in_order(
        open_zmq: Callable[..., ZmqBus], endpoint: str) -> None:
    publisher = open_zmq(f"zmq://{endpoint}?unroutable=error", username="ci")
    consumer = open_zmq(f"zmq://?endpoint=tcp://{endpoint}")
    consumer.subscribe("trigger", ["org.centos.*.queued"])
    # A body's own username (the pipeline's bodies have one) is not the envelope's.
    bodies = [{"n": n, "username": "fedora-atomic"} for n in range(50)]
    messages = [(TOPIC, encode(make_envelope(TOPIC, body))) for body in bodies]
    publish_when_heard(publisher, messages)
    got = fetch_until(consumer, "trigger", ["org.centos.*.queued"], 50)
    assert [decode(d.payload)["msg"]["n"] for d in got] == list(range(50))
    assert {decode(d.payload)["username"] for d in got} == {"ci"}
    assert {decode(d.payload)["msg"]["username"] for d in got} == {"fedora-atomic"}
    assert [d.topic for d in got] == [TOPIC] * 50


def test_a_raw_fedmsg_subscriber_sees_topic_and_envelope_frames(endpoint: str,
                                                                open_zmq: Callable[..., ZmqBus]) -> None:
    publisher = open_zmq(f"zmq://{endpoint}?unroutable=error")
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.connect(f"tcp://{endpoint}")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        publish_when_heard(publisher, [(TOPIC, encode(make_envelope(TOPIC, {"a": 1})))])
        assert sub.poll(5000)
        topic, body = sub.recv_multipart()
        assert topic == TOPIC.encode() and json.loads(body)["topic"] == TOPIC
    finally:
        sub.close(linger=0)


def test_unheard_topics_stay_unsent_with_unroutable_error(open_zmq: Callable[..., ZmqBus],
                                                          endpoint: str) -> None:
    publisher = open_zmq(f"zmq://{endpoint}?unroutable=error")
    with pytest.raises(BusError, match="stay in the outbox"):
        publisher.publish(TOPIC, b"{}")
    # The default, like fedmsg, sends anyway and ZeroMQ drops it.
    open_zmq(f"zmq://{endpoint}").publish(TOPIC, b"{}")


def test_unacked_deliveries_come_again_after_their_lease(open_zmq: Callable[..., ZmqBus],
                                                         endpoint: str) -> None:
    publisher = open_zmq(f"zmq://{endpoint}?unroutable=error")
    consumer = open_zmq(f"zmq://?endpoint=tcp://{endpoint}", lease_seconds=0.0)
    consumer.subscribe("s", ["*"])
    publish_when_heard(publisher, [(TOPIC, b'{"a":1}')])
    [first] = fetch_until(consumer, "s", ["*"], 1)
    assert consumer.pending("s", ["*"]) == 1
    [again] = consumer.fetch("s", ["*"])
    assert again == first
    consumer.ack("s", [again])
    assert consumer.pending("s", ["*"]) == 0 and consumer.fetch("s", ["*"]) == []


def test_buses_of_one_process_share_the_publishing_socket(open_zmq: Callable[..., ZmqBus],
                                                          endpoint: str) -> None:
    first = open_zmq(f"zmq://{endpoint}")
    second = first.for_another_thread()
    first.publish(TOPIC, b"{}")
    second.publish(TOPIC, b"{}")
    second.close()
    first.publish(TOPIC, b"{}")


def test_what_zmq_cannot_do_is_one_clear_error(open_zmq: Callable[..., ZmqBus], endpoint: str) -> None:
    consumer = open_zmq(f"zmq://?endpoint=tcp://{endpoint}")
    with pytest.raises(BusError, match="replay"):
        list(consumer.replay())
    with pytest.raises(BusError, match="publish on"):
        consumer.publish(TOPIC, b"{}")
    with pytest.raises(BusError, match="no endpoint"):
        open_zmq(f"zmq://{endpoint}").fetch("s", ["*"])
    open_zmq(f"zmq://{endpoint}").publish(TOPIC, b"{}")
    with pytest.raises(BusError, match="cannot bind"):
        ZmqBus(f"zmq://203.0.113.1:{free_port()}").publish(TOPIC, b"{}")


@pytest.mark.parametrize("url", [
    "zmq://", "zmq://host:1/path", "zmq://h:1?endpoint=http://x", "zmq://h:1?bogus=1",
    "zmq://h:1?unroutable=maybe", "zmq://h:1?active=perhaps", "zmq://h:1?high_water_mark=lots",
    "zmq://h:1?endpoint=tcp://a b:1",
])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        ZmqBus(url)


@given(st.text(alphabet="abc.*?[]", max_size=12), st.text(alphabet="abc.", max_size=12))
def test_the_subscribed_prefix_never_hides_a_matching_topic(pattern: str, topic: str) -> None:
    if topic_matches(topic, [pattern]):
        assert topic.startswith(literal_prefix(pattern))


def test_a_subscriber_connecting_as_the_publisher_opens_gets_its_first_message(
        open_zmq: Callable[..., ZmqBus], endpoint: str) -> None:
    consumer = open_zmq(f"zmq://?endpoint=tcp://{endpoint}")
    consumer.subscribe("s", ["*"])
    open_zmq(f"zmq://{endpoint}").publish(TOPIC, b'{"first":true}')
    assert [decode(d.payload)["first"] for d in fetch_until(consumer, "s", ["*"], 1)] == [True]
