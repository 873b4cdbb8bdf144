"""The Bus contract, run against every member (memory and SQLite)."""

from __future__ import annotations

from collections.abc import Callable

from ci_pipeline.bus import Bus, Delivery

from .conftest import FakeClock

TOPIC = "org.centos.prod.ci.pipeline.package.queued"


def positions(deliveries: list[Delivery]) -> list[int]:
    return [delivery.position for delivery in deliveries]


def test_publish_then_fetch_returns_messages_in_order(bus: Bus, clock: FakeClock) -> None:
    bus.publish_many([(TOPIC, b"one"), (TOPIC, b"two")])
    bus.publish(TOPIC, b"three")

    got = bus.fetch("relay", ["*"])

    assert [(d.topic, d.payload) for d in got] == [(TOPIC, b"one"), (TOPIC, b"two"), (TOPIC, b"three")]
    assert positions(got) == [1, 2, 3]
    assert all(d.published_at == clock.now for d in got)


def test_fetch_respects_limit_and_leases(bus: Bus) -> None:
    bus.publish_many([(TOPIC, b"%d" % n) for n in range(5)])

    first = bus.fetch("relay", ["*"], limit=2)
    second = bus.fetch("relay", ["*"], limit=10)

    assert positions(first) == [1, 2]
    assert positions(second) == [3, 4, 5]
    assert bus.fetch("relay", ["*"]) == []


def test_glob_topics_match_across_dots(bus: Bus) -> None:
    bus.publish_many(
        [
            ("org.centos.prod.ci.pipeline.package.queued", b"1"),
            ("org.fedoraproject.prod.git.receive", b"2"),
            ("org.centos.prod.ci.pipeline.compose.test.integration.complete", b"3"),
        ]
    )

    assert positions(bus.fetch("a", ["org.centos.*"])) == [1, 3]
    assert positions(bus.fetch("b", ["*.complete", "*.git.receive"])) == [2, 3]
    assert positions(bus.fetch("c", ["org.centos.prod.ci.pipeline.package.queue?"])) == [1]
    assert bus.fetch("d", ["nothing.*"]) == []
    assert bus.fetch("e", []) == []
    assert positions(bus.fetch("e", ["*"])) == [1, 2, 3]  # an empty fetch skipped nothing


def test_unacked_message_comes_again_after_lease(open_member: Callable[..., Bus], clock: FakeClock) -> None:
    bus = open_member(lease_seconds=30.0)
    bus.publish_many([(TOPIC, b"a"), (TOPIC, b"b")])
    leased = bus.fetch("relay", ["*"])
    bus.ack("relay", leased[:1])

    clock.advance(29.0)
    assert bus.fetch("relay", ["*"]) == []
    clock.advance(1.0)
    assert positions(bus.fetch("relay", ["*"])) == [2]


def test_acked_message_never_comes_back(open_member: Callable[..., Bus], clock: FakeClock) -> None:
    bus = open_member(lease_seconds=1.0)
    bus.publish_many([(TOPIC, b"a"), (TOPIC, b"b"), (TOPIC, b"c")])
    bus.ack("relay", bus.fetch("relay", ["*"]))

    clock.advance(3600.0)
    bus.publish(TOPIC, b"d")

    assert positions(bus.fetch("relay", ["*"])) == [4]
    clock.advance(3600.0)
    assert positions(bus.fetch("relay", ["*"])) == [4]


def test_ack_out_of_order_keeps_the_gap(bus: Bus, clock: FakeClock) -> None:
    bus.publish_many([(TOPIC, b"%d" % n) for n in range(4)])
    got = bus.fetch("relay", ["*"])
    bus.ack("relay", [got[1], got[3]])

    clock.advance(120.0)

    assert positions(bus.fetch("relay", ["*"])) == [1, 3]


def test_new_subscription_sees_the_whole_log(bus: Bus) -> None:
    bus.publish_many([(TOPIC, b"a"), (TOPIC, b"b")])
    bus.ack("first", bus.fetch("first", ["*"]))

    assert positions(bus.fetch("second", ["*"])) == [1, 2]


def test_two_buses_on_one_log_share_leases(open_member: Callable[..., Bus]) -> None:
    one, other = open_member(), open_member()
    one.publish_many([(TOPIC, b"%d" % n) for n in range(4)])

    mine = one.fetch("relay", ["*"], limit=2)
    theirs = other.fetch("relay", ["*"])

    assert positions(mine) == [1, 2]
    assert positions(theirs) == [3, 4]


def test_close_gives_back_unacked_leases(open_member: Callable[..., Bus]) -> None:
    leaver, stayer = open_member(), open_member()
    leaver.publish_many([(TOPIC, b"a"), (TOPIC, b"b")])
    leaver.ack("relay", leaver.fetch("relay", ["*"], limit=1))
    leaver.fetch("relay", ["*"])

    leaver.close()

    assert positions(stayer.fetch("relay", ["*"])) == [2]


def test_replay_after_position_with_topics_and_limit(bus: Bus) -> None:
    bus.publish_many([(f"t.{n % 2}", b"%d" % n) for n in range(10)])

    assert [d.position for d in bus.replay()] == list(range(1, 11))
    assert [d.position for d in bus.replay(after=7)] == [8, 9, 10]
    assert [d.position for d in bus.replay(["t.1"], after=2)] == [4, 6, 8, 10]
    assert [d.position for d in bus.replay(["t.0"], limit=2)] == [1, 3]
    assert list(bus.replay(after=10)) == []


def test_replay_is_not_changed_by_acks(bus: Bus) -> None:
    bus.publish_many([(TOPIC, b"a"), (TOPIC, b"b")])
    bus.ack("relay", bus.fetch("relay", ["*"]))

    assert [d.payload for d in bus.replay()] == [b"a", b"b"]


def test_pending_counts_unacked_matching_messages(bus: Bus) -> None:
    bus.publish_many([("a.1", b""), ("b.1", b""), ("a.2", b""), ("a.3", b"")])
    assert bus.pending("relay", ["a.*"]) == 3

    got = bus.fetch("relay", ["a.*"], limit=2)
    assert bus.pending("relay", ["a.*"]) == 3  # leased is still pending
    bus.ack("relay", got)
    assert bus.pending("relay", ["a.*"]) == 1
    bus.ack("relay", bus.fetch("relay", ["a.*"]))
    assert bus.pending("relay", ["a.*"]) == 0
    assert bus.pending("other", ["*"]) == 4
    assert bus.pending("other", []) == 0


def test_latest_position_follows_publishes(bus: Bus) -> None:
    assert bus.latest_position() == 0
    bus.publish_many([(TOPIC, b"a"), (TOPIC, b"b")])
    assert bus.latest_position() == 2


def test_payload_bytes_are_kept_whole(bus: Bus) -> None:
    payload = bytes(range(256)) + b"\x00not json"
    bus.publish("org.x", payload)

    assert bus.fetch("s", ["*"])[0].payload == payload
