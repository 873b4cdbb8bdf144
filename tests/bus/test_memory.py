"""What only the memory member does: named logs shared in the process, private unnamed ones."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.errors import BusError, ConfigError

WORDS = st.text(alphabet="abc.", min_size=1, max_size=12)


def test_named_log_is_shared_and_unnamed_is_private() -> None:
    MemoryBus("memory://shared-log-test").publish("t", b"x")

    assert [d.payload for d in MemoryBus("memory://shared-log-test").replay()] == [b"x"]
    assert list(MemoryBus("memory://").replay()) == []


@pytest.mark.parametrize("url", ["sqlite:///x", "memory://a/b", "memory://a?b=1", "memory:"])
def test_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="memory://NAME"):
        MemoryBus(url)


def test_closed_bus_refuses_work() -> None:
    bus = MemoryBus()
    bus.close()
    with pytest.raises(BusError, match="closed"):
        bus.publish("t", b"x")


def test_threads_fetching_at_once_never_share_a_message() -> None:
    bus = MemoryBus()
    bus.publish_many([("t", b"%d" % n) for n in range(2000)])
    seen: list[int] = []

    def consume() -> None:
        while batch := bus.fetch("s", ["*"], limit=7):
            seen.extend(d.position for d in batch)
            bus.ack("s", batch)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(seen) == list(range(1, 2001))


@given(topic=WORDS)
def test_star_matches_every_topic_and_a_topic_matches_itself(topic: str) -> None:
    assert topic_matches(topic, ["*"])
    assert topic_matches(topic, [topic])
    assert not topic_matches(topic, [])


@given(prefix=WORDS, rest=WORDS)
def test_star_spans_dots(prefix: str, rest: str) -> None:
    assert topic_matches(prefix + "." + rest, [prefix + "*"])
