"""Poison messages through the whole service, on every bus and store pair: ``serve`` survives, and
every message is decided or dead-lettered (SQLite bus and RabbitMQ; SQLite and PostgreSQL stores)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest
from amqp_fixtures import AMQP, delete_subscription
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ci_pipeline.bus import open_bus
from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config, load_config
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.service import Service
from ci_pipeline.store.db import Store, open_store
from ci_pipeline.store.models import DeadLetter, Decision
from engine.helpers import postgres_store

pytestmark = pytest.mark.integration

TOPIC = "org.fedoraproject.prod.git.receive"
#: A package no push names: every valid push is decided "ignore", so no pipeline starts.
ONLY_PACKAGE = "tracked-package"


@dataclass
class Parts:
    """A service's bus and store, its configuration, and a way to put any bytes on its bus."""

    config: Config
    store: Store
    bus: Bus
    send_raw: Callable[[list[tuple[bytes, pika.BasicProperties | None]]], None]


def _amqp_sender(exchange: str) -> Callable[[list[tuple[bytes, pika.BasicProperties | None]]], None]:
    def send(messages: list[tuple[bytes, pika.BasicProperties | None]]) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP))
        channel = connection.channel()
        channel.confirm_delivery()
        for body, properties in messages:
            channel.basic_publish(exchange, TOPIC, body, properties or pika.BasicProperties())
        connection.close()

    return send


@pytest.fixture(
    params=["sqlite-bus/sqlite-store", "sqlite-bus/postgresql", "amqp/sqlite-store", "amqp/postgresql"]
)
def parts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parts]:
    bus_kind, store_kind = request.param.split("/")
    tag = uuid.uuid4().hex[:10]
    exchange, subscription = f"ci-poison-{tag}", f"ci-poison-sub-{tag}"
    bus_url = (f"{AMQP}?exchange={exchange}&fetch_wait=0.2" if bus_kind == "amqp"
               else f"sqlite:///{tmp_path / 'bus.sqlite'}")
    with postgres_store() if store_kind == "postgresql" else _sqlite_store(tmp_path) as store:
        config = load_config(environ={
            "CI_PIPELINE_STATE_DIR": str(tmp_path / "state"),
            "CI_PIPELINE_BUS_URL": bus_url,
            "CI_PIPELINE_BUS_SUBSCRIPTION": subscription,
            "CI_PIPELINE_STORE_URL": store.url,
        })
        trigger = config.trigger.model_copy(update={"packages": [ONLY_PACKAGE]})
        config = config.model_copy(update={"trigger": trigger})
        bus = open_bus(bus_url)
        bus.subscribe(subscription, (TOPIC,))  # the queue keeps what is sent before serve starts
        if bus_kind == "amqp":
            sender = _amqp_sender(exchange)
        else:
            def sender(messages: list[tuple[bytes, pika.BasicProperties | None]]) -> None:
                bus.publish_many([(TOPIC, body) for body, _ in messages])
        try:
            yield Parts(config, store, bus, sender)
        finally:
            bus.close()
            if bus_kind == "amqp":
                delete_subscription(exchange, subscription)


class _sqlite_store:
    def __init__(self, directory: Path) -> None:
        self.store = open_store(f"sqlite:///{directory / 'store.sqlite'}")

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


def valid_push(repo: str = "vim", rev: str = "") -> bytes:
    return encode(make_git_receive(repo=repo, rev=rev or secrets.token_hex(20), branch="f26"))


def handled(store: Store) -> int:
    with store.session() as session:
        decided = session.execute(select(func.count(Decision.id))).scalar_one()
        dead = session.execute(select(func.count(DeadLetter.id))).scalar_one()
    return int(decided + dead)


def drain(service: Service, parts: Parts, expected: int) -> None:
    """Step the service until ``expected`` messages are handled (a step must never raise)."""
    for _ in range(200):
        service.step()
        pending = parts.bus.pending(parts.config.bus.subscription, (TOPIC,))
        if handled(parts.store) >= expected and pending == 0:
            return
    raise AssertionError(f"only {handled(parts.store)} of {expected} messages were handled")


def _mutated_push(data: st.DataObject) -> bytes:
    message = make_git_receive(repo="vim", rev=secrets.token_hex(20), branch="f26")
    commit = message["msg"]["commit"]
    key = data.draw(st.sampled_from(["repo", "rev", "branch", "namespace", "path", "summary", "msg_id"]))
    value = data.draw(st.text(max_size=120) | st.integers() | st.none() | st.lists(st.text(max_size=3)))
    if key == "msg_id":
        message["msg_id"] = value
    else:
        commit[key] = value
    try:
        return encode(message)
    except Exception:  # a lone surrogate: send the raw escape instead
        return json.dumps(message).encode()


hostile_bodies = st.one_of(
    st.binary(max_size=300),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 3000).map(lambda depth: b'{"msg":' * depth),
    st.just(b"\x00" * 64),
    st.just(b"{" + b" " * (2 * 1024 * 1024) + b"}"),
)
amqp_properties = st.none() | st.builds(
    pika.BasicProperties,
    message_id=st.none() | st.text(max_size=40),
    timestamp=st.none() | st.integers(0, 2**63 - 1),
    headers=st.none() | st.dictionaries(st.sampled_from(["sent-at", "ci_pipeline_envelope", "x"]),
                                        st.text(max_size=30) | st.integers(-(2**31), 2**31)),
    content_encoding=st.none() | st.sampled_from(["utf-8", "latin-1", "nope"]),
)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_arbitrary_messages_are_each_decided_or_dead_lettered_and_the_service_goes_on(
    parts: Parts, data: st.DataObject
) -> None:
    service = Service(parts.config, parts.store, parts.bus)
    before = handled(parts.store)
    count = data.draw(st.integers(1, 8))
    messages = [
        (data.draw(hostile_bodies) if data.draw(st.booleans()) else _mutated_push(data),
         data.draw(amqp_properties))
        for _ in range(count)
    ]
    rev = secrets.token_hex(20)

    parts.send_raw(messages)
    parts.bus.publish(TOPIC, valid_push(rev=rev))  # in the bus's own wire form
    drain(service, parts, before + len(messages) + 1)

    assert handled(parts.store) == before + len(messages) + 1
    with parts.store.session() as session:
        assert session.scalars(select(Decision.repo).where(Decision.rev == rev)).one() == "vim"


def test_serve_survives_the_messages_that_once_stopped_it(parts: Parts, tmp_path: Path) -> None:
    unsigned = make_git_receive(repo="vim", rev=secrets.token_hex(20), branch="f26")
    unsigned["msg_id"] = "2017-\x00"
    body = make_git_receive(repo="vim", rev="a" * 40, branch="f26")["msg"]
    dump = {"topic": TOPIC, "id": "\x00", "body": body}
    poison = [
        encode(make_git_receive(repo="vim", rev=secrets.token_hex(20), branch="f" + "9" * 99)),
        encode(make_git_receive(repo="vim", rev=secrets.token_hex(20), branch="f26",
                                path="/srv/git/repositories/forks/\x00/vim.git")),
        encode(unsigned),
        encode(dump),
        b"[" * 500_000,
        b"{" + b" " * (10 * 1024 * 1024) + b"}",
    ]
    parts.send_raw([(body, None) for body in poison])
    parts.bus.publish_many([(TOPIC, valid_push(f"pkg{index}")) for index in range(5)])
    config_file = tmp_path / "ci-pipeline.toml"
    config_file.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[bus]\nurl = "{parts.config.bus.url}"\n'
        f'subscription = "{parts.config.bus.subscription}"\n[store]\nurl = "{parts.store.url}"\n'
        f'[trigger]\npackages = ["{ONLY_PACKAGE}"]\n'
    )

    result = subprocess.run(
        [sys.executable, "-m", "ci_pipeline", "--config", str(config_file),
         "serve", "--until-idle", "--no-web"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert handled(parts.store) == len(poison) + 5
    with parts.store.session() as session:
        decided = set(session.scalars(select(Decision.repo)))
        kept = session.execute(select(func.max(func.length(DeadLetter.payload)))).scalar_one()
    assert {f"pkg{index}" for index in range(5)} <= decided
    assert kept <= 64 * 1024
