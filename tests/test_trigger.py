"""The trigger: filters, dedupe, decisions with reasons, runs, outbox messages, dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pika
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ci_pipeline.bus import amqp_wire
from ci_pipeline.bus.base import Delivery
from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.messages.schema import validate_envelope
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import DEAD_LETTER_KEPT_BYTES, DeadLetter, Decision, OutboxMessage, Run
from ci_pipeline.store.states import DecisionKind, IgnoreCause
from ci_pipeline.trigger import Trigger, treefile_packages

REV_A = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
REV_B = "8346cbfc821c824c5e5b1a42ac92f8b49ea843a4"


def push(repo: str = "vim", rev: str = REV_A, branch: str = "f26", **extra: str) -> Delivery:
    message = make_git_receive(repo=repo, rev=rev, branch=branch, **extra)  # type: ignore[arg-type]
    return Delivery(position=1, topic=message["topic"], payload=encode(message), published_at=0.0)


def tracked(config: Config, *packages: str) -> Config:
    trigger = config.trigger.model_copy(update={"packages": list(packages)})
    return config.model_copy(update={"trigger": trigger})


def outbox(store: Store) -> list[dict[str, object]]:
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [json.loads(row.payload) for row in rows]


def test_tracked_push_queues_a_run_with_seed_shaped_message(config: Config, sqlite_store: Store) -> None:
    trigger = Trigger(tracked(config, "vim"), sqlite_store)
    assert trigger.handle_deliveries([push()]) == (1, 0)
    [message] = outbox(sqlite_store)
    assert message["topic"] == "org.centos.prod.ci.pipeline.package.queued"
    assert validate_envelope(message) == "package.queued"
    body = message["msg"]
    assert body["CI_NAME"] == "ci-pipeline-f26"
    assert body["build_id"] == "1"
    assert body["build_url"].endswith("/job/ci-pipeline-f26/1/")
    assert body["ref"] == "fedora/f26/x86_64/atomic-host"
    assert body["test_guidance"] == "''"
    assert body["username"] == "fedora-atomic"
    with sqlite_store.session() as session:
        run = session.scalars(select(Run)).one()
        decision = session.scalars(select(Decision)).one()
    assert (run.repo, run.rev, run.branch, run.ci_name) == ("vim", REV_A, "f26", "ci-pipeline-f26")
    assert decision.decision == "queued" and decision.run_id == run.id


@pytest.mark.parametrize(
    ("delivery", "reason"),
    [
        (push(repo="electrum"), "not part of the tracked OS"),
        (push(branch="f24x"), "does not match"),
        (push(namespace="modules"), "namespace 'modules' is not tracked"),
        (push(path="/srv/git/repositories/forks/someone/rpms/vim.git"), "fork"),
    ],
)
def test_untracked_pushes_are_ignored_with_reason(
    config: Config, sqlite_store: Store, delivery: Delivery, reason: str
) -> None:
    Trigger(tracked(config, "vim"), sqlite_store).handle_deliveries([delivery])
    [message] = outbox(sqlite_store)
    assert validate_envelope(message) == "package.ignore"
    assert message["msg"]["CI_NAME"] == "ci-pipeline-trigger"
    with sqlite_store.session() as session:
        decision = session.scalars(select(Decision)).one()
        assert session.scalars(select(Run)).first() is None
    assert decision.decision == "ignore" and reason in decision.reason


def test_same_change_never_runs_twice_unless_forced(config: Config, sqlite_store: Store) -> None:
    trigger = Trigger(tracked(config, "vim"), sqlite_store)
    trigger.handle_deliveries([push(), push()])
    trigger.handle_deliveries([push()])
    verdict = trigger.trigger_change(_parsed(push()), force=True)
    assert verdict.decision == "queued"
    with sqlite_store.session() as session:
        decisions = session.scalars(select(Decision).order_by(Decision.id)).all()
        runs = session.scalars(select(Run).order_by(Run.id)).all()
    assert [d.decision for d in decisions] == ["queued", "ignore", "ignore", "queued"]
    assert "already ran" in decisions[2].reason
    assert [(r.generation, r.build_id) for r in runs] == [(0, 1), (1, 2)]


def test_build_ids_are_a_sequence_per_ci_name(config: Config, sqlite_store: Store) -> None:
    trigger = Trigger(tracked(config, "vim", "kernel"), sqlite_store)
    trigger.handle_deliveries([push(), push(rev=REV_B), push("kernel", branch="f27"), push("x")])
    with sqlite_store.session() as session:
        runs = session.scalars(select(Run).order_by(Run.id)).all()
        decisions = session.scalars(select(Decision).order_by(Decision.id)).all()
    assert [(r.ci_name, r.build_id) for r in runs] == [
        ("ci-pipeline-f26", 1), ("ci-pipeline-f26", 2), ("ci-pipeline-f27", 1)
    ]
    assert [d.build_id for d in decisions] == [1, 2, 3, 4]


def test_empty_package_set_tracks_everything(config: Config, sqlite_store: Store) -> None:
    assert Trigger(config, sqlite_store).trigger_change(_parsed(push("anything"))).decision == "queued"


def test_treefile_packages_are_tracked(tmp_path: Path, config: Config, sqlite_store: Store) -> None:
    treefile = tmp_path / "treefile.json"
    treefile.write_text(json.dumps({"ref": "fedora/f26/x86_64/atomic-host", "packages": ["vim kernel"]}))
    trigger_config = config.trigger.model_copy(update={"treefile": str(treefile)})
    trigger = Trigger(config.model_copy(update={"trigger": trigger_config}), sqlite_store)
    assert treefile_packages(str(treefile)) == {"vim", "kernel"}
    assert trigger.trigger_change(_parsed(push("kernel"))).decision == "queued"
    assert trigger.trigger_change(_parsed(push("electrum"))).decision == "ignore"


def test_unreadable_treefile_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        treefile_packages(str(tmp_path / "missing.json"))


def test_tracked_packages_come_from_yaml_includes_and_the_pipeline_arch(
    tmp_path: Path, config: Config, sqlite_store: Store
) -> None:
    (tmp_path / "common.yaml").write_text("packages: [systemd]\npackages-aarch64: [grub2-efi-aa64]\n")
    treefile = tmp_path / "host.yaml"
    ref = "fedora/${releasever}/${basearch}/atomic-host"
    treefile.write_text(f"include: common.yaml\nref: {ref}\npackages: [vim]\n")
    trigger_config = config.trigger.model_copy(update={"treefile": str(treefile)})
    pipeline = config.pipeline.model_copy(update={"arch": "aarch64"})
    updated = config.model_copy(update={"trigger": trigger_config, "pipeline": pipeline})
    assert Trigger(updated, sqlite_store).rules.packages == {"systemd", "grub2-efi-aa64", "vim"}


KEYS = ["commit", "msg", "repo", "rev", "topic"]
BAD_PAYLOADS = [
    b"not json",
    b"[]",
    b'{"commit": {"repo": "vim"}}',
    json.dumps({"commit": {"repo": "../etc", "rev": REV_A, "branch": "f26", "namespace": "rpms"}}).encode(),
    json.dumps({"commit": {"repo": "vim", "rev": "HEAD", "branch": "f26", "namespace": "rpms"}}).encode(),
    json.dumps({"commit": {"repo": "vim", "rev": REV_A, "branch": "f26;rm -rf /", "namespace": "rpms"}})
    .encode(),
    b"{" + b" " * (1024 * 1024) + b"}",
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_bad_input_is_dead_lettered_and_the_next_message_handled(
    config: Config, sqlite_store: Store, payload: bytes
) -> None:
    bad = Delivery(position=1, topic="org.fedoraproject.prod.git.receive", payload=payload, published_at=0)
    assert Trigger(config, sqlite_store).handle_deliveries([bad, push()]) == (1, 1)
    with sqlite_store.session() as session:
        [dead] = session.scalars(select(DeadLetter)).all()
        assert session.scalars(select(Run)).one().repo == "vim"
    assert dead.payload == payload[:DEAD_LETTER_KEPT_BYTES] and dead.payload_size == len(payload)
    assert dead.reason


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
            max_leaves=12,
        ).map(lambda doc: json.dumps(doc).encode()),
    )
)
def test_fuzzed_messages_never_stop_the_consumer(
    config: Config, sqlite_store: Store, payload: bytes
) -> None:
    fuzz = Delivery(position=1, topic="org.fedoraproject.prod.git.receive", payload=payload, published_at=0)
    decided, dead = Trigger(config, sqlite_store).handle_deliveries([fuzz, push()])
    assert decided + dead == 2 and decided >= 1


def _parsed(delivery: Delivery):  # type: ignore[no-untyped-def]
    from ci_pipeline.messages.inbound import parse_git_receive

    return parse_git_receive(delivery.payload)


def test_each_ignore_records_its_cause_as_a_key_beside_the_reason(config: Config, store: Store) -> None:
    trigger = Trigger(tracked(config, "vim"), store)
    trigger.handle_deliveries([
        push(),
        push(path="/srv/git/repositories/forks/someone/rpms/vim.git"),
        push(namespace="modules"),
        push(branch="private-jdoe-fix"),
        push("emacs"),
        push(),
    ])
    with store.session() as session:
        rows = session.scalars(select(Decision).order_by(Decision.id))
        found = [(row.decision, row.ignore_cause) for row in rows]
    assert found == [
        (DecisionKind.QUEUED, None),
        (DecisionKind.IGNORE, IgnoreCause.FORK),
        (DecisionKind.IGNORE, IgnoreCause.NAMESPACE),
        (DecisionKind.IGNORE, IgnoreCause.BRANCH),
        (DecisionKind.IGNORE, IgnoreCause.PACKAGE),
        (DecisionKind.IGNORE, IgnoreCause.DUPLICATE),
    ]


PUSHES_DIR = Path(__file__).resolve().parent / "data" / "pushes"


def shipped(name: str) -> tuple[str, dict[str, Any]]:
    """A real-shaped push message of tests/data/pushes: its topic and the whole document."""
    document: dict[str, Any] = json.loads((PUSHES_DIR / name).read_text("utf-8"))
    return document["topic"], document


def _body_alone(document: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = document["body"] if "body" in document else document["msg"]
    return body


#: What the trigger decides for each shipped push with vim and kernel tracked on f*, rawhide, master.
EXPECTED = {
    "datagrepper-2015-git-receive-no-i.json": ("vim", "f22", DecisionKind.QUEUED, None),
    "datagrepper-2014-git-receive-no-msg-id.json": ("kernel", "f21", DecisionKind.QUEUED, None),
    "per-repo-topic-git-receive.json": ("vim", "f26", DecisionKind.QUEUED, None),
    "pagure-git-receive.json": ("vim", "rawhide", DecisionKind.QUEUED, None),
    "pagure-git-receive-fork.json": ("vim", "rawhide", DecisionKind.IGNORE, IgnoreCause.FORK),
}


def real_world(config: Config) -> Config:
    trigger = config.trigger.model_copy(
        update={"packages": ["vim", "kernel"], "branches": r"^(f[0-9]+|rawhide|master)$"}
    )
    return config.model_copy(update={"trigger": trigger})


def _decided(store: Store) -> list[tuple[str, str, str, str | None]]:
    with store.session() as session:
        rows = session.scalars(select(Decision).order_by(Decision.id)).all()
        return [(row.repo, row.branch, row.decision, row.ignore_cause) for row in rows]


@pytest.mark.parametrize("wire", ["fedmsg", "amqp-body"])
def test_every_push_form_is_decided_as_it_arrives_on_either_bus(
    config: Config, store: Store, wire: str
) -> None:
    """The SQLite bus hands the trigger whole envelopes and dumps; RabbitMQ the body alone, which
    the AMQP wire decoding wraps in an envelope with the routing key as topic."""
    deliveries = []
    for position, name in enumerate(sorted(EXPECTED), start=1):
        topic, document = shipped(name)
        payload = encode(document)
        if wire == "amqp-body":
            properties = pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                              message_id=document.get("id"), headers=document.get("headers"))
            payload, _ = amqp_wire.decode(topic, properties, encode(_body_alone(document)))
        deliveries.append(Delivery(position=position, topic=topic, payload=payload, published_at=0.0))

    assert Trigger(real_world(config), store).handle_deliveries(deliveries) == (len(EXPECTED), 0)

    assert _decided(store) == [
        (repo, branch, decision, cause) for repo, branch, decision, cause in
        (EXPECTED[name] for name in sorted(EXPECTED))
    ]


@pytest.mark.parametrize(
    "topic",
    ["org.fedoraproject.prod.bodhi.update.comment", "org.fedoraproject.prod.pagure.git.branch.creation"],
)
def test_a_delivery_on_a_topic_that_is_no_push_kind_is_dead_lettered_with_the_reason(
    config: Config, sqlite_store: Store, topic: str
) -> None:
    """A wider subscription (``org.fedoraproject.prod.*``) brings other messages: each is refused alone."""
    _, pagure = shipped("pagure-git-receive.json")
    stray = Delivery(position=1, topic=topic, payload=encode(_body_alone(pagure)), published_at=0.0)
    assert Trigger(config, sqlite_store).handle_deliveries([stray, push()]) == (1, 1)
    with sqlite_store.session() as session:
        [dead] = session.scalars(select(DeadLetter)).all()
    assert dead.topic == topic
    assert dead.reason == f"Topic '{topic}' is not a dist-git push topic (git.receive, " \
        "git.receive.<repo>.<branch> or pagure.git.receive)."


def test_hostile_pagure_pushes_are_refused_or_decided_and_never_stop_the_trigger(
    config: Config, store: Store
) -> None:
    topic, dump = shipped("pagure-git-receive-fork.json")
    hostile = []
    for change in (
        {"agent": "\x00"},
        {"repo": {**dump["body"]["repo"], "fullname": "forks/\x00/rpms/vim" + "x" * 70_000}},
        {"authors": [{"fullname": "\x00", "name": None, "url_path": None}]},
        {"end_commit": "0" * 40},
        {"branch": "refs/tags/1.0"},
        {"repo": {**dump["body"]["repo"], "name": "v" * 200}},
    ):
        document = {**dump, "body": {**dump["body"], **change}}
        hostile.append(Delivery(position=len(hostile) + 1, topic=topic, payload=encode(document),
                                published_at=0.0))
    # The deleted branch and the tag are refused; the other fork pushes are ignored as forks.
    assert Trigger(real_world(config), store).handle_deliveries([*hostile, push()]) == (5, 2)
    with store.session() as session:
        assert session.scalars(select(Run.repo)).all() == ["vim"]
        reasons = session.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)).all()
    assert reasons == ["Field 'end_commit' is all zeros: the push deleted the branch.",
                       "Field 'branch' must name a branch, not 'refs/tags/1.0'."]
    assert [cause for *_, cause in _decided(store)] == [IgnoreCause.FORK] * 4 + [None]
