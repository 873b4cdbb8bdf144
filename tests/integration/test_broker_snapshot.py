"""The queue page's view of Celery: queue depths from the real RabbitMQ, and workers' answers."""

from __future__ import annotations

import secrets

import pytest
from kombu import Connection, Exchange, Queue

from ci_pipeline.config import Config
from ci_pipeline.web.broker import take_snapshot

pytestmark = pytest.mark.integration


def test_a_snapshot_counts_the_messages_waiting_in_a_queue(config: Config) -> None:
    name, missing = f"ci-pipeline-test.{secrets.token_hex(4)}", f"ci-pipeline-test.{secrets.token_hex(4)}"
    queue = Queue(name, Exchange(""), routing_key=name, auto_delete=False, durable=False)
    with Connection(config.executor.broker) as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        try:
            producer = connection.Producer()
            for n in range(3):
                producer.publish({"n": n}, routing_key=name, exchange="", retry=True)
            snapshot = take_snapshot(config, [name, missing])
        finally:
            bound.delete()
    assert snapshot.depths == {name: 3, missing: None}
    assert snapshot.problem == "" and snapshot.taken > 0
    assert all(isinstance(queues, list) for queues in snapshot.workers.values())


def test_a_broker_that_does_not_answer_is_a_problem_not_an_error(config: Config) -> None:
    executor = config.executor.model_copy(update={"broker": "amqp://guest:guest@127.0.0.1:1//"})
    snapshot = take_snapshot(config.model_copy(update={"executor": executor}), ["q"])
    assert snapshot.problem.startswith("The broker did not answer") and snapshot.depths == {}
