"""The service on RabbitMQ: the machine's broker is stopped and started while runs go on.

A real ``ci-pipeline serve`` on the AMQP bus (its own exchange and queues) drives a batch of runs
of command stages, one package each so that none supersedes another. An observer queue bound to
every pipeline topic is declared before the start. In the middle, RabbitMQ itself is stopped and
started again. Every run's messages must all arrive, in order within the run (at least once: an
exact repeat of the message just before is allowed).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from scale_out_fixtures import ensure_rabbitmq_up, restart_rabbitmq

from ci_pipeline.bus.amqp import AmqpBus
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.messages.topics import STAGE_ORDER, State, stage_suffix

pytestmark = pytest.mark.integration

BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
RUNS = 8
STAGES = {"build": 'echo "nvr=$REPO-1.0-1.1.$BUILD_ID.fc26" >> "$CI_PIPELINE_OUTPUTS"; sleep 0.3'}


def expected_sequence() -> list[str]:
    """A successful run's message suffixes, from package.queued to the pipeline's end."""
    sequence = [stage_suffix(stage, state) for stage in STAGE_ORDER for state in State]
    return [*sequence, "complete"]


def without_repeats(suffixes: list[str]) -> list[str]:
    """The sequence with exact repeats of the message just before removed (at-least-once)."""
    return [suffix for index, suffix in enumerate(suffixes) if index == 0 or suffixes[index - 1] != suffix]


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """A fresh exchange and queue names; all of them deleted afterwards."""
    token = uuid.uuid4().hex[:8]
    names = {
        "exchange": f"ci-restart-{token}",
        "trigger": f"ci-restart-trigger-{token}",
        "observer": f"ci-restart-observer-{token}",
    }
    yield names
    ensure_rabbitmq_up()
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    channel = connection.channel()
    for queue in (names["trigger"], names["observer"]):
        channel.queue_delete(queue)
        channel.queue_delete(f"{queue}.dead-letter")
        channel.exchange_delete(f"{queue}.dead-letter")
    channel.exchange_delete(names["exchange"])
    connection.close()


def write_config(tmp_path: Path, names: dict[str, str]) -> Path:
    pipeline = tmp_path / "pipeline.toml"
    tables = []
    for stage in STAGE_ORDER:
        command = STAGES.get(stage, "sleep 0.1")
        tables.append(f'[[stage]]\nname = "{stage}"\nrun = {json.dumps(command)}\n')
        if stage == "image":
            tables.append("interval = 0\n")
    pipeline.write_text("\n".join(tables))
    config = tmp_path / "ci-pipeline.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[bus]\nurl = "{BROKER}?exchange={names["exchange"]}&reconnect_attempts=30"\n'
        f'subscription = "{names["trigger"]}"\n'
        f'[pipeline]\nfile = "{pipeline}"\n'
    )
    return config


def collect(observer: AmqpBus, queue: str, seen: dict[str, list[str]]) -> None:
    """Move what the observer queue holds into ``seen`` (build_id -> suffixes)."""
    deliveries = observer.fetch(queue, ["org.centos.prod.ci.pipeline.*"], 500)
    for delivery in deliveries:
        body = json.loads(delivery.payload)["msg"]
        suffix = delivery.topic.split(".ci.pipeline.", 1)[1]
        seen.setdefault(body["build_id"], []).append(suffix)
    observer.ack(queue, deliveries)


def finished(seen: dict[str, list[str]]) -> bool:
    return len(seen) == RUNS and all(suffixes[-1:] == ["complete"] for suffixes in seen.values())


def test_broker_restart_in_the_middle_loses_and_reorders_nothing(
    tmp_path: Path, names: dict[str, str]
) -> None:
    config = write_config(tmp_path, names)
    url = f"{BROKER}?exchange={names['exchange']}"
    observer = AmqpBus(url)
    observer.subscribe(names["observer"], ["org.centos.prod.ci.pipeline.*"])
    publisher = AmqpBus(url)
    publisher.subscribe(names["trigger"], ["org.fedoraproject.prod.git.receive"])
    pushes = [
        make_git_receive(repo=f"pkg{index}", rev=uuid.uuid4().hex + uuid.uuid4().hex[:8], branch="f26")
        for index in range(RUNS)
    ]
    publisher.publish_many([(push["topic"], encode(push)) for push in pushes])
    publisher.close()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "ci_pipeline", "--config", str(config), "serve", "--no-web"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    seen: dict[str, list[str]] = {}
    try:
        while sum(len(suffixes) for suffixes in seen.values()) < 20:
            collect(observer, names["observer"], seen)
        observer.close()
        restart_rabbitmq()
        observer = AmqpBus(url, reconnect_attempts=30)
        deadline = time.monotonic() + 180
        while not finished(seen):
            assert time.monotonic() < deadline, f"runs did not finish: {seen}"
            collect(observer, names["observer"], seen)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
        observer.close()
        log.close()
    assert sorted(seen) == [str(build_id) for build_id in range(1, RUNS + 1)]
    for build_id, suffixes in seen.items():
        assert without_repeats(suffixes) == expected_sequence(), f"run #{build_id}: {suffixes}"
