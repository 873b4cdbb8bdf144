"""The AMQP bus without a broker: wire format, topic bindings, options (broker tests: integration)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pika
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.bus.amqp import AmqpBus, check_subscription_name, split_url
from ci_pipeline.bus.amqp_consumer import binding_key
from ci_pipeline.bus.amqp_wire import decode, encode
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.errors import BusError, ConfigError

TOPIC = "org.centos.prod.ci.pipeline.package.complete"


def envelope(**msg: Any) -> dict[str, Any]:
    return {"i": 3, "timestamp": 1493386183.5, "msg_id": "2017-b29fa2b4-0600-4f08-9475-5f82f6684bd4",
            "topic": TOPIC, "msg": msg or {"status": "SUCCESS", "repo": "vim"}}


def test_encode_puts_the_body_on_the_wire_in_fedora_messaging_form() -> None:
    wire = encode(TOPIC, json.dumps(envelope(status="FAILURE", repo="vim")).encode())

    assert wire.routing_key == TOPIC
    assert json.loads(wire.body) == {"status": "FAILURE", "repo": "vim"}
    props = wire.properties
    assert (props.content_type, props.content_encoding) == ("application/json", "utf-8")
    assert props.delivery_mode == 2
    assert props.message_id == "2017-b29fa2b4-0600-4f08-9475-5f82f6684bd4"
    assert props.headers["fedora_messaging_schema"] == "base.message"
    assert props.headers["fedora_messaging_severity"] == 30
    assert props.headers["priority"] == 0
    assert datetime.fromisoformat(props.headers["sent-at"]) == datetime.fromtimestamp(1493386183.5, UTC)


def test_success_is_info_and_schema_is_configurable() -> None:
    wire = encode(TOPIC, json.dumps(envelope()).encode(), schema="ci_pipeline.package")

    assert wire.properties.headers["fedora_messaging_severity"] == 20
    assert wire.properties.headers["fedora_messaging_schema"] == "ci_pipeline.package"


def test_whole_envelope_mode_round_trips_unchanged() -> None:
    original = envelope()
    wire = encode(TOPIC, json.dumps(original).encode(), whole_envelope=True)

    payload, published_at = decode(TOPIC, wire.properties, wire.body)

    assert json.loads(payload) == original
    assert published_at == 1493386183.5


def test_a_payload_that_is_no_envelope_travels_raw() -> None:
    wire = encode(TOPIC, b"\xffnot json")

    assert wire.body == b"\xffnot json"
    assert decode(TOPIC, wire.properties, wire.body)[0] == b"\xffnot json"


def test_fedora_messaging_message_is_wrapped_into_an_envelope() -> None:
    properties = pika.BasicProperties(
        content_type="application/json", content_encoding="utf-8",
        message_id="b29fa2b4-0600-4f08-9475-5f82f6684bd4",
        headers={"fedora_messaging_schema": "base.message", "fedora_messaging_severity": 20,
                 "sent-at": "2017-04-28T13:29:43+00:00"},
    )
    body = b'{"commit": {"repo": "vim"}}'
    payload, published_at = decode("org.fedoraproject.prod.git.receive", properties, body)

    wrapped = json.loads(payload)
    assert wrapped["msg"] == {"commit": {"repo": "vim"}}
    assert wrapped["topic"] == "org.fedoraproject.prod.git.receive"
    assert wrapped["msg_id"] == "2017-b29fa2b4-0600-4f08-9475-5f82f6684bd4"
    assert wrapped["timestamp"] == published_at == datetime(2017, 4, 28, 13, 29, 43, tzinfo=UTC).timestamp()
    assert wrapped["headers"]["fedora_messaging_severity"] == 20


def test_message_without_id_gets_the_same_id_on_every_delivery() -> None:
    properties = pika.BasicProperties(headers={"sent-at": "2020-01-01T00:00:00"})
    first = json.loads(decode("a.b", properties, b"{}")[0])["msg_id"]
    second = json.loads(decode("a.b", properties, b"{}")[0])["msg_id"]

    assert first == second and re.match(r"^2020-[0-9a-f-]{36}$", first)


def test_body_that_is_not_an_object_is_passed_on_whole() -> None:
    properties = pika.BasicProperties(content_encoding="utf-8", headers={})
    assert decode("a.b", properties, b"[1, 2]")[0] == b"[1, 2]"
    assert decode("a.b", properties, b"{broken")[0] == b"{broken"


header_values = st.one_of(
    st.text(), st.binary(max_size=20), st.integers(), st.floats(), st.booleans(), st.none()
)
header_names = st.sampled_from(["sent-at", "ci_pipeline_envelope", "x"])
hostile_bodies = st.one_of(
    st.binary(max_size=200),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 5000).map(lambda depth: b'{"msg":' * depth + b"1" + b"}" * depth),
    st.text(max_size=50).map(lambda text: json.dumps({"commit": {"repo": text}}).encode()),
)


@given(
    body=hostile_bodies,
    headers=st.none() | st.dictionaries(header_names, header_values),
    message_id=st.none() | st.text(max_size=60),
    timestamp=st.none() | st.integers(-(2**63), 2**64),
    encoding=st.none() | st.sampled_from(["utf-8", "latin-1", "no-such-codec", "\x00"]),
)
def test_decode_never_raises_on_whatever_the_broker_delivers(
    body: bytes, headers: dict[str, Any] | None, message_id: str | None, timestamp: int | None,
    encoding: str | None,
) -> None:
    properties = pika.BasicProperties(headers=headers, message_id=message_id, timestamp=timestamp,
                                      content_encoding=encoding)

    payload, published_at = decode(TOPIC, properties, body)

    assert isinstance(payload, bytes) and 0 <= published_at < datetime(9999, 12, 31, tzinfo=UTC).timestamp()
    if payload != body:  # wrapped: a JSON envelope with a fedmsg id, never a raw NUL or a lone id
        assert re.fullmatch(r"[0-9]{4}-[0-9a-f-]{36}", json.loads(payload)["msg_id"])


def test_a_deeply_nested_body_is_passed_on_whole_for_the_trigger_to_dead_letter() -> None:
    body = b"[" * 100_000
    assert decode(TOPIC, pika.BasicProperties(), body)[0] == body


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(body=st.dictionaries(st.text(max_size=8), json_values, max_size=6),
       timestamp=st.integers(0, 4_000_000_000))
def test_body_and_identity_survive_the_wire(body: dict[str, Any], timestamp: int) -> None:
    original = {"i": 1, "timestamp": timestamp, "msg_id": "2021-0b1c2d3e-0000-4000-8000-000000000000",
                "topic": TOPIC, "msg": body}
    wire = encode(TOPIC, json.dumps(original).encode())

    wrapped = json.loads(decode(TOPIC, wire.properties, wire.body)[0])

    assert wrapped["msg"] == body
    assert (wrapped["msg_id"], wrapped["topic"]) == (original["msg_id"], TOPIC)
    assert wrapped["timestamp"] == timestamp


def amqp_matches(key: str, topic: str) -> bool:
    """A reference AMQP topic matcher: ``*`` is one word, ``#`` zero or more words."""
    def match(pattern: list[str], words: list[str]) -> bool:
        if not pattern:
            return not words
        head, rest = pattern[0], pattern[1:]
        if head == "#":
            return any(match(rest, words[i:]) for i in range(len(words) + 1))
        return bool(words) and (head in ("*", words[0])) and match(rest, words[1:])
    return match(key.split("."), topic.split("."))


words = st.text(alphabet="abc", min_size=1, max_size=3)


@given(topic=st.lists(words, min_size=1, max_size=6).map(".".join),
       pattern=st.lists(st.one_of(words, st.just("*"), st.sampled_from(["a*", "*b", "?c"])), min_size=1,
                        max_size=5).map(".".join))
def test_binding_key_covers_every_topic_the_glob_matches(topic: str, pattern: str) -> None:
    if topic_matches(topic, [pattern]):
        assert amqp_matches(binding_key(pattern), topic)


def test_binding_keys_of_our_globs() -> None:
    assert binding_key("*") == "#"
    assert binding_key("org.centos.*") == "org.centos.#"
    assert binding_key("org.*.ci.pipeline.*.complete") == "org.#.ci.pipeline.#.complete"
    assert binding_key("org.centos.prod.ci.package.queued") == "org.centos.prod.ci.package.queued"
    assert topic_matches("org.centos.prod.ci.pipeline.package.test.functional.complete", ["org.centos.*"])
    assert not topic_matches("org.fedoraproject.prod.git.receive", ["org.centos.*"])


def test_options_come_from_keywords_and_the_url_query() -> None:
    url, options = split_url("amqp://guest:guest@localhost/%2F?heartbeat=30&exchange=ci&prefetch=7",
                              {"envelope": "fedmsg"})

    assert url == "amqp://guest:guest@localhost/%2F?heartbeat=30"
    assert (options["exchange"], options["prefetch"], options["envelope"]) == ("ci", 7, "fedmsg")


@pytest.mark.parametrize("options", [{"colour": "blue"}, {"prefetch": "many"}, {"envelope": "zmq"}])
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        split_url("amqp://localhost/", options)


def test_replay_is_refused_with_a_pointer_to_the_store() -> None:
    bus = AmqpBus("amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(BusError, match="store's message log"):
        bus.replay()
    assert bus.latest_position() == 0


@pytest.mark.parametrize("name", ["", "amq.reserved", "x" * 201])
def test_subscription_names_that_cannot_name_a_queue_are_refused(name: str) -> None:
    with pytest.raises(BusError):
        check_subscription_name(name)
