"""A lost connection in the middle of a batch: nothing confirmed is lost, and order holds.

A TCP proxy on 127.0.0.1 that the test controls sits between the publishing bus and RabbitMQ; the
test cuts every connection through it (and refuses new ones) while a batch is in flight, then
restores it. The consuming bus talks to RabbitMQ directly.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pika
import pytest

from ci_pipeline.bus.amqp import AmqpBus

pytestmark = pytest.mark.integration

BROKER = ("127.0.0.1", 5672)
URL = "amqp://guest:guest@127.0.0.1:{port}/%2F"
TOPIC = "org.centos.prod.ci.pipeline.package.running"
BATCHES, BATCH_SIZE = 6, 1500


class CuttableProxy:
    """Forwards TCP connections to the broker until cut; while cut, refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def cut(self) -> None:
        """Close every forwarded connection and refuse new ones."""
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                self._close(sock)
            self._sockets.clear()

    def restore(self) -> None:
        """Forward new connections again."""
        self._open.set()

    def stop(self) -> None:
        """Stop accepting and close everything."""
        self._stopped.set()
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            if not self._open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        self._close(source)
        self._close(sink)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    running = CuttableProxy(BROKER)
    yield running
    running.stop()


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:10]
    created = {"exchange": f"ci-fault-{tag}", "subscription": f"ci-fault-sub-{tag}"}
    yield created
    connection = pika.BlockingConnection(pika.URLParameters(URL.format(port=BROKER[1])))
    channel = connection.channel()
    for queue in (created["subscription"], f"{created['subscription']}.dead-letter"):
        channel.queue_delete(queue)
    for exchange in (created["exchange"], f"{created['subscription']}.dead-letter"):
        channel.exchange_delete(exchange)
    connection.close()


def envelope(n: int) -> bytes:
    return json.dumps({"i": n, "timestamp": 1700000000, "msg_id": f"2023-{uuid.uuid4()}", "topic": TOPIC,
                       "msg": {"n": n}}).encode()


def test_cut_in_the_middle_of_a_batch_loses_nothing_and_keeps_order(
    proxy: CuttableProxy, names: dict[str, str], record_property: pytest.RecordProperty
) -> None:
    consumer = AmqpBus(URL.format(port=BROKER[1]), exchange=names["exchange"])
    consumer.fetch(names["subscription"], ["*"], limit=1)  # the queue exists before anything is sent
    publisher = AmqpBus(URL.format(port=proxy.port), exchange=names["exchange"],
                        reconnect_attempts=12, reconnect_delay=0.1)
    batch_started = [threading.Event() for _ in range(BATCHES)]
    returned: list[int] = []
    failures: list[BaseException] = []

    def publish_batches() -> None:
        try:
            for batch in range(BATCHES):
                batch_started[batch].set()
                first = batch * BATCH_SIZE
                publisher.publish_many([(TOPIC, envelope(n)) for n in range(first, first + BATCH_SIZE)])
                returned.append(batch)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=publish_batches)
    thread.start()
    assert batch_started[2].wait(timeout=30)
    time.sleep(0.05)  # into the third batch: some of it sent, little or none of it confirmed
    proxy.cut()
    cut_after = len(returned)
    time.sleep(1.0)
    proxy.restore()
    thread.join(timeout=120)
    publisher.close()

    assert not failures, failures
    assert returned == list(range(BATCHES))
    assert cut_after < BATCHES  # the cut came while batches were still in flight
    received: list[int] = []
    deadline = time.monotonic() + 60
    total = BATCHES * BATCH_SIZE
    while len(set(received)) < total and time.monotonic() < deadline:
        deliveries = consumer.fetch(names["subscription"], ["*"], limit=500)
        received += [json.loads(d.payload)["msg"]["n"] for d in deliveries]
        consumer.ack(names["subscription"], deliveries)
    consumer.close()

    first_seen = list(dict.fromkeys(received))
    duplicates = len(received) - len(first_seen)
    record_property("duplicates", duplicates)
    print(f"cut after {cut_after} batch(es); {len(received)} received, {duplicates} duplicate(s)")
    assert first_seen == list(range(total))
    assert duplicates <= BATCH_SIZE  # only the unconfirmed tail of the cut batch is sent again
