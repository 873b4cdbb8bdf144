"""Push messages as Fedora sends them over RabbitMQ (fedora-messaging's wire: the body alone, the
topic as routing key), decided end to end by ``serve --until-idle`` against the broker at
127.0.0.1:5672."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pytest
from amqp_fixtures import AMQP, unique_names

from ci_pipeline.bus import open_bus
from ci_pipeline.cli import main
from ci_pipeline.config import load_config

pytestmark = pytest.mark.integration

PUSHES_DIR = Path(__file__).resolve().parents[1] / "data" / "pushes"


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """A unique exchange and subscription; both, and the dead-letter pair, are deleted afterwards."""
    with unique_names("ci-pushes") as created:
        yield created


def _as_fedora_sends_it(document: dict[str, Any]) -> tuple[str, bytes, pika.BasicProperties]:
    """Routing key, body and properties of a shipped message the way fedora-messaging publishes it."""
    body = document["body"] if "body" in document else document["msg"]
    headers = document.get("headers") or {
        "fedora_messaging_schema": "base.message",
        "fedora_messaging_severity": 20,
        "sent-at": datetime.now(UTC).isoformat(),
        "priority": 0,
    }
    properties = pika.BasicProperties(
        content_type="application/json", content_encoding="utf-8", delivery_mode=2,
        headers=headers, message_id=document.get("id") or str(uuid.uuid4()),
    )
    return document["topic"], json.dumps(body).encode("utf-8"), properties


def test_pushes_as_fedora_sends_them_over_rabbitmq_are_decided(
    names: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text('[[stage]]\nname = "build"\nrun = "true"\n')
    (tmp_path / "ci-pipeline.toml").write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[bus]\nurl = "{AMQP}?exchange={names["exchange"]}&fetch_wait=0.2"\n'
        f'subscription = "{names["subscription"]}"\n'
        '[trigger]\npackages = ["vim", "kernel"]\nbranches = "^(f[0-9]+|rawhide|master)$"\n'
        '[pipeline]\nfile = "pipeline.toml"\n'
    )
    config = load_config(environ={})
    bus = open_bus(config.bus.url)
    bus.subscribe(config.bus.subscription, config.bus.trigger_topics)  # the queue exists before pushes
    bus.close()
    connection = pika.BlockingConnection(pika.URLParameters(AMQP))
    channel = connection.channel()
    channel.confirm_delivery()
    for name in ("pagure-git-receive.json", "pagure-git-receive-fork.json",
                 "per-repo-topic-git-receive.json", "datagrepper-2015-git-receive-no-i.json"):
        topic, body, properties = _as_fedora_sends_it(json.loads((PUSHES_DIR / name).read_text("utf-8")))
        channel.basic_publish(names["exchange"], topic, body, properties, mandatory=True)
    connection.close()

    assert main(["serve", "--until-idle", "--no-web"]) == 0
    capsys.readouterr()
    assert main(["decisions", "--json"]) == 0
    decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert [(d["repo"], d["rev"][:7], d["branch"], d["decision"], d["ignore_cause"]) for d in decisions] == [
        ("vim", "b84f4a2", "rawhide", "queued", None),
        ("vim", "e2a9c7b", "rawhide", "ignore", "fork"),
        ("vim", "591b0d2", "f26", "queued", None),
        ("vim", "3e9a1c5", "f22", "queued", None),
    ]
    # fedora-messaging's bare UUID id gets the year of sending, as fedmsg ids have.
    assert decisions[0]["msg_id"].endswith("-3b8f5a2c-7d1e-4f6a-9b0c-2e4d6f8a1c3e")
    assert main(["dead-letters", "--json"]) == 0
    assert capsys.readouterr().out == ""
