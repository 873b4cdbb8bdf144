"""The service loop: pushes from the bus are decided and acked, and the outbox reaches the bus."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import Config
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.service import Service
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import DeadLetter, Decision

REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"


def _push(bus: MemoryBus, repo: str) -> None:
    message = make_git_receive(repo=repo, rev=REV, branch="f26")
    bus.publish(message["topic"], encode(message))


def test_a_push_is_decided_acked_and_its_ignore_message_relayed(config: Config, sqlite_store: Store) -> None:
    bus = MemoryBus("memory://")
    config = config.model_copy(update={"trigger": config.trigger.model_copy(update={"packages": ["kernel"]})})
    service = Service(config, sqlite_store, bus)  # vim is not part of the OS: its push is ignored
    _push(bus, "vim")
    bus.publish(config.bus.trigger_topics[0], b"not json")
    service.run(until_idle=True)
    with sqlite_store.session() as session:
        decisions = session.scalars(select(Decision)).all()
        dead = session.scalars(select(DeadLetter)).all()
    assert [(d.repo, d.decision) for d in decisions] == [("vim", "ignore")]
    assert len(dead) == 1 and dead[0].payload == b"not json"
    assert bus.pending(service.subscription, service.topics) == 0
    sent = [d.topic for d in bus.replay() if d.topic not in config.bus.trigger_topics]
    assert sent == ["org.centos.prod.ci.pipeline.package.ignore"]
    assert json.loads(next(d.payload for d in bus.replay() if d.topic == sent[0]))["msg"]["repo"] == "vim"
    assert service.idle()
    bus.close()


def test_consume_pushes_counts_the_batch_and_an_empty_bus_is_no_work(
    config: Config, sqlite_store: Store
) -> None:
    bus = MemoryBus("memory://")
    service = Service(config, sqlite_store, bus)
    service.engine = None  # the trigger alone
    assert service.consume_pushes() == 0
    _push(bus, "vim")
    _push(bus, "kernel")
    assert service.consume_pushes() == 2
    assert service.step() is False
    bus.close()


def test_a_stop_event_ends_the_loop(config: Config, sqlite_store: Store) -> None:
    bus = MemoryBus("memory://")
    service = Service(config, sqlite_store, bus)
    stop = threading.Event()
    stop.set()
    service.run(stop=stop)  # returns at once: nothing was started that outlives it
    assert service.idle()
    bus.close()
