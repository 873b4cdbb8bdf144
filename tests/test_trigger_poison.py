"""Poison messages at the trigger: every message is decided or dead-lettered, on SQLite and PostgreSQL,
and one message the store refuses never holds up the rest of its batch."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from ci_pipeline.bus.base import Delivery
from ci_pipeline.config import Config
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import GitPush, make_git_receive
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import DEAD_LETTER_KEPT_BYTES, DeadLetter, Decision
from ci_pipeline.trigger import Trigger
from messages.test_signing import PKI, _pem

TOPIC = "org.fedoraproject.prod.git.receive"


def delivery(payload: bytes, topic: str = TOPIC) -> Delivery:
    return Delivery(position=1, topic=topic, payload=payload, published_at=0.0)


def push(repo: str = "vim", branch: str = "f26", **commit: Any) -> Delivery:
    message = make_git_receive(repo=repo, rev=secrets.token_hex(20), branch=branch)
    message["msg"]["commit"].update(commit)
    return delivery(encode(message))


def counts(store: Store) -> tuple[int, int]:
    with store.session() as session:
        decided = session.execute(select(func.count(Decision.id))).scalar_one()
        dead = session.execute(select(func.count(DeadLetter.id))).scalar_one()
    return decided, dead


def hostile_deliveries() -> list[Delivery]:
    """Messages that once stopped the service on one store or another."""
    fedora_messaging_dump = {
        "topic": TOPIC, "id": "\x00" + "1" * 35, "headers": {},
        "body": json.loads(push().payload)["msg"],
    }
    unsigned = json.loads(push().payload)
    unsigned["msg_id"] = "2017-\x00"
    return [
        push(branch="f" + "9" * 99),
        push(branch="f" + "9" * 95),
        push(path="/srv/git/repositories/forks/\x00/vim.git"),
        push(summary="\x00" * 10, message="\x00", name="\x00", email="\x00"),
        push(repo="v" * 200),
        delivery(encode(fedora_messaging_dump)),
        delivery(encode(unsigned)),
        delivery(b"[" * 100_000),
        delivery(b'{"commit": ' * 5000),
        delivery(b"\x00" * 100, topic=TOPIC + ".\x00"),
        delivery(b"x" * (3 * 1024 * 1024)),
    ]


def test_each_hostile_message_is_decided_or_dead_lettered_and_valid_ones_all_decided(
    config: Config, store: Store
) -> None:
    valid = [push(repo=f"pkg{index}") for index in range(20)]
    batch = hostile_deliveries()
    mixed = [message for pair in zip(valid, batch, strict=False) for message in pair] + valid[len(batch):]

    decided, dead = Trigger(config, store).handle_deliveries(mixed)

    assert decided + dead == len(mixed)
    assert counts(store) == (decided, dead)
    with store.session() as session:
        queued = session.scalars(select(Decision.repo).where(Decision.decision == "queued")).all()
        reasons = session.scalars(select(DeadLetter.reason)).all()
    assert {f"pkg{index}" for index in range(20)} <= set(queued)
    assert all(reason and "\x00" not in reason for reason in reasons)


def test_a_rejected_message_is_kept_only_in_part(config: Config, store: Store) -> None:
    huge = b"{" + b" " * (10 * 1024 * 1024) + b"}"

    Trigger(config, store).handle_deliveries([delivery(huge)])

    with store.session() as session:
        [row] = session.scalars(select(DeadLetter)).all()
    assert len(row.payload) == DEAD_LETTER_KEPT_BYTES and row.payload == huge[:DEAD_LETTER_KEPT_BYTES]
    assert row.payload_size == len(huge) and "more than" in row.reason


class RefusingTrigger(Trigger):
    """A trigger whose store refuses any transaction that holds one of the ``refused`` repos."""

    refused: frozenset[str] = frozenset()
    transactions = 0

    def decide_pushes(self, session: Any, pushes: Sequence[GitPush], *args: Any, **kwargs: Any) -> Any:
        self.transactions += 1
        if any(push.repo in self.refused for push in pushes):
            raise DataError("INSERT ...", {}, Exception("value too long for type character varying(100)"))
        return super().decide_pushes(session, pushes, *args, **kwargs)


@pytest.mark.parametrize("refused", [{"bad0"}, {"bad0", "bad7"}, {f"bad{index}" for index in range(8)}])
def test_a_refused_message_is_dead_lettered_and_the_rest_of_the_batch_decided(
    config: Config, store: Store, refused: set[str]
) -> None:
    names = [f"bad{index}" if index % 8 == 0 else f"ok{index}" for index in range(64)]
    names = [f"bad{index // 8}" if name.startswith("bad") else name for index, name in enumerate(names)]
    trigger = RefusingTrigger(config, store)
    trigger.refused = frozenset(refused)

    decided, dead = trigger.handle_deliveries([push(repo=name) for name in names])

    refused_count = sum(name in refused for name in names)
    assert (decided, dead) == (64 - refused_count, refused_count)
    with store.session() as session:
        decisions = session.scalars(select(Decision.repo).order_by(Decision.id)).all()
        reasons = session.scalars(select(DeadLetter.reason)).all()
    assert decisions == [name for name in names if name not in refused]  # in order
    refusal = "The store refused the message: value too long for type character varying(100)."
    assert reasons == [refusal] * refused_count
    # Halving finds the refused ones in a few transactions, not one per message.
    assert trigger.transactions <= 1 + 2 * refused_count * 7


def test_a_branch_whose_ci_name_would_be_too_long_is_dead_lettered_with_the_rule(
    config: Config, store: Store
) -> None:
    decided, dead = Trigger(config, store).handle_deliveries([push(branch="f" + "9" * 99), push()])

    assert (decided, dead) == (1, 1)
    with store.session() as session:
        [reason] = session.scalars(select(DeadLetter.reason)).all()
    assert reason.startswith("The CI_NAME 'ci-pipeline-f999") and "made from the branch 'f999" in reason


def test_a_push_to_a_fork_names_the_path_quoted(config: Config, store: Store) -> None:
    path = "/srv/git/repositories/forks/user/rpms/vim.git\x00" + "x" * 5000
    Trigger(config, store).handle_deliveries([push(path=path)])

    with store.session() as session:
        [reason] = session.scalars(select(Decision.reason)).all()
    assert "forks/user/rpms/vim.git\\x00" in reason and len(reason) < 300


def test_with_a_ca_an_unsigned_message_with_a_nul_id_is_dead_lettered_with_the_id_escaped(
    config: Config, store: Store, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_pem(PKI().ca))
    signed_only = config.model_copy(update={"bus": config.bus.model_copy(update={"ca": str(ca)})})
    unsigned = json.loads(push().payload)
    unsigned["msg_id"] = "2017-\x00" + "7" * 5000

    assert Trigger(signed_only, store).handle_deliveries([delivery(encode(unsigned)), push()]) == (0, 2)

    with store.session() as session:
        reasons = session.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)).all()
    assert "'2017-\\x00777" in reasons[0] and "not signed" in reasons[0] and len(reasons[0]) < 300
