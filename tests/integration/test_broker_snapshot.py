"""The queue page's view of Celery: queue depths from the real RabbitMQ, workers' answers, and who
runs each task (from Redis)."""

from __future__ import annotations

import secrets

import pytest
import redis
from kombu import Connection, Exchange, Queue

from ci_pipeline.config import Config
from ci_pipeline.executors.celery_app import TaskKeys, namespace, task_id
from ci_pipeline.web.broker import take_snapshot, task_workers

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


def test_the_worker_of_each_running_task_is_read_from_redis(config: Config) -> None:
    broker = f"amqp://guest:guest@127.0.0.1:5672/ns-{secrets.token_hex(4)}"
    configured = config.model_copy(update={"executor": config.executor.model_copy(update={"broker": broker})})
    ns = namespace(broker)
    client = redis.Redis.from_url(configured.executor.result_backend)
    alive = TaskKeys.of(ns, task_id(ns, 7, "build", 1)).alive
    client.set(alive, "celery@host-a", ex=60)
    try:
        found = task_workers(configured, [(7, "build", 1), (8, "image", 2)])
    finally:
        client.delete(alive)
    assert found == {(7, "build", 1): "celery@host-a", (8, "image", 2): None}
    silent = config.executor.model_copy(update={"result_backend": "redis://127.0.0.1:1/0"})
    assert task_workers(config.model_copy(update={"executor": silent}), [(7, "build", 1)]) is None
