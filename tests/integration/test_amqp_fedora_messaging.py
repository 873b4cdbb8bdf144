"""Interoperability with the real fedora-messaging package, over the RabbitMQ at 127.0.0.1:5672.

fedora-messaging runs in a subprocess (its consumer and publisher run a Twisted reactor), configured
by a TOML file as its users configure it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from ci_pipeline.bus.amqp import AmqpBus
from ci_pipeline.messages.envelope import decode as decode_envelope

pytestmark = pytest.mark.integration

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
#: The seed examples, in the repository's test data (as tests/messages finds them).
SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "messages"

CONSUMER = textwrap.dedent("""
    import json, sys
    from fedora_messaging import api, exceptions
    out, expected, exchange, queue = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seen = []
    def record(message):
        seen.append({"id": message.id, "topic": message.topic, "body": message.body,
                     "severity": message.severity, "class": type(message).__name__,
                     "sent_at": message._headers.get("sent-at")})
        if len(seen) == expected:
            with open(out, "w") as handle:
                json.dump(seen, handle)
            raise exceptions.HaltConsumer()
    bindings = [{"exchange": exchange, "queue": queue, "routing_keys": ["#"]}]
    queues = {queue: {"durable": False, "auto_delete": False, "exclusive": False, "arguments": {}}}
    try:
        api.consume(record, bindings=bindings, queues=queues)
    except exceptions.HaltConsumer:
        pass
""")

PUBLISHER = textwrap.dedent("""
    import json, sys
    from fedora_messaging import api, message
    exchange, topic, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    outgoing = message.Message(topic=topic, body=body)
    api.publish(outgoing, exchange=exchange)
    print(outgoing.id)
""")


@pytest.fixture
def fm_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fedora-messaging process: a config file that logs warnings to stderr."""
    config = tmp_path / "fedora-messaging.toml"
    config.write_text(textwrap.dedent(f"""
        amqp_url = "{URL}"
        topic_prefix = ""
        [log_config]
        version = 1
        disable_existing_loggers = false
        [log_config.handlers.console]
        class = "logging.StreamHandler"
        stream = "ext://sys.stderr"
        [log_config.root]
        level = "WARNING"
        handlers = ["console"]
    """))
    return {**os.environ, "FEDORA_MESSAGING_CONF": str(config)}


@pytest.fixture
def broker_names() -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:10]
    names = {"exchange": f"ci-fm-{tag}", "queue": f"ci-fm-q-{tag}", "subscription": f"ci-fm-sub-{tag}"}
    yield names
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    channel = connection.channel()
    for queue in (names["queue"], names["subscription"], f"{names['subscription']}.dead-letter"):
        channel.queue_delete(queue)
    for exchange in (names["exchange"], f"{names['subscription']}.dead-letter"):
        channel.exchange_delete(exchange)
    connection.close()


def seed_envelope(name: str) -> dict[str, object]:
    return json.loads((SEED / f"{name}.json").read_text())


def test_fedora_messaging_consumer_reads_what_we_publish(tmp_path: Path, fm_env: dict[str, str],
                                                        broker_names: dict[str, str]) -> None:
    exchange, queue = broker_names["exchange"], broker_names["queue"]
    bus = AmqpBus(URL, exchange=exchange)
    # The consumer's queue exists and is bound before we publish (our publishes are mandatory).
    channel = bus._channel()
    channel.queue_declare(queue, durable=False, auto_delete=False)
    channel.queue_bind(queue, exchange, routing_key="#")
    sent = [seed_envelope("org.centos.prod.ci.pipeline.package.complete"),
            seed_envelope("org.centos.prod.ci.pipeline.package.running")]
    sent[0]["msg"] = {**sent[0]["msg"], "status": "FAILURE"}  # type: ignore[dict-item]
    out = tmp_path / "received.json"
    consumer = subprocess.Popen([sys.executable, "-c", CONSUMER, str(out), "2", exchange, queue],
                                env=fm_env, stderr=subprocess.PIPE, text=True)
    try:
        bus.publish_many([(str(e["topic"]), json.dumps(e).encode()) for e in sent])
        _, stderr = consumer.communicate(timeout=60)
    finally:
        consumer.kill()
        bus.close()

    received = json.loads(out.read_text())
    assert [r["topic"] for r in received] == [e["topic"] for e in sent]
    assert [r["id"] for r in received] == [e["msg_id"] for e in sent]
    assert [r["body"] for r in received] == [e["msg"] for e in sent]
    assert [r["severity"] for r in received] == [30, 20]  # WARNING for a failure, INFO otherwise
    assert {r["class"] for r in received} == {"Message"}
    assert all(r["sent_at"].endswith("+00:00") for r in received)
    assert "not in the schema registry" not in stderr
    assert "misbehaving" not in stderr


def test_we_read_what_fedora_messaging_publishes(fm_env: dict[str, str],
                                                 broker_names: dict[str, str]) -> None:
    exchange, sub = broker_names["exchange"], broker_names["subscription"]
    bus = AmqpBus(URL, exchange=exchange)
    assert bus.fetch(sub, ["org.fedoraproject.*"]) == []
    git_receive = seed_envelope("org.fedoraproject.prod.git.receive")
    before = time.time()
    command = [sys.executable, "-c", PUBLISHER, exchange, str(git_receive["topic"]),
               json.dumps(git_receive["msg"])]
    published = subprocess.run(command, env=fm_env, capture_output=True, text=True, timeout=60, check=True)
    message_id = published.stdout.strip()

    deliveries = []
    deadline = time.monotonic() + 10
    while not deliveries and time.monotonic() < deadline:
        deliveries = bus.fetch(sub, ["org.fedoraproject.*"])
    bus.ack(sub, deliveries)
    bus.close()

    [delivery] = deliveries
    envelope = decode_envelope(delivery.payload)
    assert envelope["topic"] == delivery.topic == "org.fedoraproject.prod.git.receive"
    assert envelope["msg"] == git_receive["msg"]
    assert envelope["msg_id"].endswith(message_id) and envelope["msg_id"][:4].isdigit()
    assert before - 1 <= envelope["timestamp"] <= time.time()
    assert envelope["headers"]["fedora_messaging_schema"] == "base.message"
