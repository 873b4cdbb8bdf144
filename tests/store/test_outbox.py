"""The outbox: adding messages, sending the unsent ones in order, the backlog, and reading the log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ci_pipeline.store import outbox
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from engine.helpers import add_run

TOPIC = "org.centos.prod.ci.pipeline.package.{}"


def test_unsent_messages_go_out_oldest_first_and_once(store: Store) -> None:
    run_id = add_run(store)
    with store.session() as session:
        outbox.add_message(session, run_id, TOPIC.format("queued"), b"1")
    with store.session() as session:
        outbox.add_messages(session, [
            {"run_id": run_id, "topic": TOPIC.format("running"), "payload": b"2"},
            {"run_id": None, "topic": "org.centos.prod.ci.pipeline.package.ignore", "payload": b"3"},
        ])
        outbox.add_messages(session, [])
    with store.session() as session:
        depth, oldest = outbox.backlog(session)
        assert depth == 3 and oldest is not None
        assert outbox.message_count(session) == 3
    sent: list[list[tuple[str, bytes]]] = []
    assert outbox.send_unsent(store, 2, sent.append) == 2
    assert outbox.depth(store) == 1
    assert outbox.send_unsent(store, 10, sent.append) == 1
    assert outbox.send_unsent(store, 10, sent.append) == 0
    assert [[payload for _, payload in batch] for batch in sent] == [[b"1", b"2"], [b"3"]]
    with store.session() as session:
        assert outbox.backlog(session) == (0, None)
        assert outbox.message_count(session) == 3


def test_a_failed_send_leaves_the_messages_unsent(store: Store) -> None:
    with store.session() as session:
        outbox.add_message(session, None, TOPIC.format("queued"), b"1")

    def refuse(_rows: list[tuple[str, bytes]]) -> None:
        raise ConnectionError("the broker is away")

    with pytest.raises(ConnectionError):
        outbox.send_unsent(store, 10, refuse)
    assert outbox.depth(store) == 1


def test_the_log_reads_by_position_topic_run_and_time(store: Store) -> None:
    vim, kernel = add_run(store, repo="vim"), add_run(store, repo="kernel")
    with store.session() as session:
        outbox.add_message(session, vim, TOPIC.format("queued"), b"v1")
        outbox.add_message(session, kernel, TOPIC.format("queued"), b"k1")
        outbox.add_message(session, vim, "org.centos.prod.ci.pipeline.compose.running", b"v2")
        outbox.add_message(session, None, "org.centos.prod.ci.pipeline.package.ignore", b"i1")
    every = list(outbox.messages_after(store, "*", 0))
    assert [m.payload for m in every] == [b"v1", b"k1", b"v2", b"i1"]
    assert [m.payload for m in outbox.messages_after(store, "*.package.*", every[0].id)] == [b"k1", b"i1"]
    with store.session() as session:
        assert [m.payload for m in outbox.run_messages(session, vim)] == [b"v1", b"v2"]

        def newest(**filters: Any) -> list[bytes]:
            return [m.payload for m in outbox.newest_messages(session, limit=10, **filters)]

        assert newest() == [b"i1", b"v2", b"k1", b"v1"]
        assert newest(topic_glob="*.package.??????") == [b"i1", b"k1", b"v1"]
        # A repo's messages, and the messages of no run, whose bodies the caller reads.
        assert newest(repo="vim") == [b"i1", b"v2", b"v1"]
        assert newest(since=utcnow() + timedelta(hours=1)) == []
        assert newest(until=utcnow() - timedelta(hours=1)) == []
        assert newest(rev="0" * 40) == [b"i1"]
        assert newest(topic_glob="100%_sure") == []


def test_globs_become_like_patterns_with_like_characters_taken_literally() -> None:
    assert outbox.glob_to_like("a*b?c%d_e\\") == "a%b_c\\%d\\_e\\\\"
