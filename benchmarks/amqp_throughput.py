"""AMQP publish rate with confirms: ci-pipeline's AmqpBus versus fedora-messaging's ``api.publish``.

    .venv/bin/python benchmarks/amqp_throughput.py [--url amqp://guest:guest@127.0.0.1:5672/%2F]
        [--ours 20000] [--theirs 2000] [--batch 5000]

Both publish the same message (the seed's package.complete body, ~700 bytes) to a fresh exchange
bound to one durable queue, persistent, waiting for the broker's confirms: ours in batches of
``--batch`` (one wait per batch), fedora-messaging one message at a time as its API does. Prints
each rate and their ratio; everything it declares is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import pika

from ci_pipeline.bus.amqp import AmqpBus

TOPIC = "org.centos.prod.ci.pipeline.package.complete"
#: The queue the trigger's subscription declares here ([bus] subscription).
TRIGGER_QUEUE = f"ci-bench-trigger-{uuid.uuid4().hex[:8]}"
BODY = {
    "CI_NAME": "ci-pipeline-f26", "CI_TYPE": "custom", "branch": "f26", "build_id": "91",
    "build_url": "http://127.0.0.1:8080/runs/91", "compose_rev": "", "message-content": "",
    "namespace": "rpms", "nvr": "vim-7.4.160-1.200.591b0d2.fc26",
    "original_spec_nvr": "vim-7.4.160-1.fc26", "ref": "fedora/f26/x86_64/atomic-host", "repo": "vim",
    "rev": "591b0d2f8a8c53c8ea7e7ed5d2f1c0cc1b2e8a1a", "status": "SUCCESS", "test_guidance": "''",
    "topic": TOPIC, "username": "fedora-atomic",
}


def envelope(n: int) -> bytes:
    """One fedmsg envelope of the benchmark's message."""
    return json.dumps({"i": n, "timestamp": time.time(), "msg_id": f"{time.gmtime().tm_year}-{uuid.uuid4()}",
                       "topic": TOPIC, "msg": BODY}).encode()


def our_rate(url: str, exchange: str, count: int, batch: int) -> float:
    """Messages per second through AmqpBus.publish_many with confirms."""
    bus = AmqpBus(url, exchange=exchange)
    payloads = [(TOPIC, envelope(n)) for n in range(count)]
    bus.publish(TOPIC, envelope(-1))  # connect and warm up outside the timing
    started = time.perf_counter()
    for start in range(0, count, batch):
        bus.publish_many(payloads[start:start + batch])
    elapsed = time.perf_counter() - started
    bus.close()
    return count / elapsed


def their_rate(url: str, exchange: str, count: int) -> float:
    """Messages per second through fedora_messaging.api.publish (it waits for each confirm)."""
    config = Path(tempfile.mkdtemp()) / "fedora-messaging.toml"
    config.write_text(f'amqp_url = "{url}"\ntopic_prefix = ""\n')
    os.environ["FEDORA_MESSAGING_CONF"] = str(config)
    from fedora_messaging import api, message  # reads its configuration on first use

    api.publish(message.Message(topic=TOPIC, body=BODY), exchange=exchange)
    started = time.perf_counter()
    for _ in range(count):
        api.publish(message.Message(topic=TOPIC, body=BODY), exchange=exchange)
    return count / (time.perf_counter() - started)


def decision_rate(url: str, exchange: str, count: int) -> float:
    """Decisions per second of the service's trigger consuming git.receive messages over AMQP.

    ``count`` pushes (one in ten for a tracked package) wait in the trigger's queue; the timing
    covers fetching, deciding (SQLite store), acking and relaying the resulting package.queued /
    package.ignore messages back through the broker with confirms, on a thread and connection of
    its own, as ``serve`` does.
    """
    from urllib.parse import quote

    from ci_pipeline.config import load_config
    from ci_pipeline.engine.relay import outbox_depth
    from ci_pipeline.messages.envelope import encode
    from ci_pipeline.messages.inbound import make_git_receive
    from ci_pipeline.service import OutboxRelay, Service
    from ci_pipeline.store.db import open_store

    state = tempfile.mkdtemp()
    separator = "&" if "?" in url else "?"
    config = load_config(environ={
        "CI_PIPELINE_STATE_DIR": state,
        "CI_PIPELINE_BUS_URL": f"{url}{separator}exchange={quote(exchange)}",
        "CI_PIPELINE_TRIGGER_PACKAGES": "vim",
        "CI_PIPELINE_BUS_SUBSCRIPTION": TRIGGER_QUEUE,
    })
    store = open_store(config.store.url)
    bus = AmqpBus(config.bus.url)
    service = Service(config, store, bus)  # declares the trigger's queue and binding
    service.engine = None  # the trigger alone: no runs are driven here
    pushes = []
    for index in range(count):
        rev = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        message = make_git_receive(repo="vim" if index % 10 == 0 else f"pkg{index}", rev=rev, branch="f26")
        pushes.append((config.bus.trigger_topics[0], encode(message)))
    for start in range(0, count, 5000):
        bus.publish_many(pushes[start:start + 5000])
    relay = OutboxRelay(store, bus.for_another_thread(), None)
    started = time.perf_counter()
    relay.start()
    decided = 0
    while decided < count:
        decided += service.consume_pushes()
    while outbox_depth(store):
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    relay.halt.set()
    relay.join()
    relay.bus.close()
    bus.close()
    store.close()
    return count / elapsed


def main() -> None:
    """Run both publishers against one broker and print the rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--ours", type=int, default=20000)
    parser.add_argument("--theirs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--decisions", type=int, default=20000)
    args = parser.parse_args()

    exchange, queue = f"ci-bench-{uuid.uuid4().hex[:8]}", f"ci-bench-q-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange, routing_key="#")
    try:
        ours = our_rate(args.url, exchange, args.ours, args.batch)
        channel.queue_purge(queue)
        theirs = their_rate(args.url, exchange, args.theirs)
        channel.queue_purge(queue)
        decisions = decision_rate(args.url, exchange, args.decisions)
    finally:
        for leftover in (TRIGGER_QUEUE, f"{TRIGGER_QUEUE}.dead-letter"):
            channel.queue_delete(leftover)
        channel.exchange_delete(f"{TRIGGER_QUEUE}.dead-letter")
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()
    print(f"AmqpBus.publish_many, confirms, batches of {args.batch}: {args.ours} msgs, {ours:,.0f} msg/s")
    print(f"fedora_messaging.api.publish, confirm per message: {args.theirs} msgs, {theirs:,.0f} msg/s")
    print(f"ratio: {ours / theirs:.1f}x")
    print(f"consume + trigger + relay over AMQP: {args.decisions} pushes, {decisions:,.0f} decisions/s")


if __name__ == "__main__":
    main()
