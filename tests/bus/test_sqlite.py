"""What only the SQLite member does: URLs, the file, reopening, and several processes on one file."""

from __future__ import annotations

import multiprocessing
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.bus.sqlite import SqliteBus, SqliteUrl, parse_url
from ci_pipeline.errors import BusError, ConfigError

from .conftest import FakeClock

PATH_TEXT = st.text(alphabet=st.characters(categories=["L", "N"], include_characters="/._- "), min_size=1)


@given(path=PATH_TEXT)
def test_url_path_is_everything_after_three_slashes(path: str) -> None:
    assert parse_url(f"sqlite:///{path}") == SqliteUrl(path)


def test_four_slashes_make_an_absolute_path() -> None:
    assert parse_url("sqlite:////var/lib/ci/bus.sqlite").path == "/var/lib/ci/bus.sqlite"


def test_url_options_are_read() -> None:
    url = "sqlite:///bus.sqlite?lease_seconds=5&busy_timeout=2.5&synchronous=normal"
    assert parse_url(url) == SqliteUrl("bus.sqlite", 5.0, 2.5, "normal")


@pytest.mark.parametrize("url", ["sqlite://host/bus", "sqlite:///", "memory://"])
def test_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite:///relative/path"):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [("sqlite:///bus?mode=ro", "unknown option 'mode'"), ("sqlite:///bus?lease_seconds=x", "not a number")],
)
def test_bad_url_option_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_url(url)


def test_keyword_options_win_over_url_options(tmp_path: Path, clock: FakeClock) -> None:
    bus = SqliteBus(f"sqlite:///{tmp_path}/bus.sqlite?lease_seconds=100", lease_seconds=10.0, clock=clock)
    try:
        bus.publish("t", b"x")
        bus.fetch("s", ["*"])
        clock.advance(10.0)
        assert len(bus.fetch("s", ["*"])) == 1
    finally:
        bus.close()


def test_bad_synchronous_option_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="synchronous"):
        SqliteBus(f"sqlite:///{tmp_path}/bus.sqlite?synchronous=off")


def test_file_is_in_wal_mode_and_parent_folders_are_made(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / "bus.sqlite"
    SqliteBus(f"sqlite:///{path}").close()

    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopen_keeps_messages_cursor_and_acks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bus.sqlite"
    bus = SqliteBus(url)
    bus.publish_many([("t", b"%d" % n) for n in range(5)])
    got = bus.fetch("relay", ["*"])
    bus.ack("relay", [got[0], got[1], got[3]])
    bus.close()

    again = SqliteBus(url, lease_seconds=60.0)
    try:
        assert again.latest_position() == 5
        assert again.pending("relay", ["*"]) == 2
        assert [d.position for d in again.fetch("relay", ["*"])] == [3, 5]
    finally:
        again.close()


def test_failed_batch_stores_nothing(tmp_path: Path) -> None:
    bus = SqliteBus(f"sqlite:///{tmp_path}/bus.sqlite")
    try:
        with pytest.raises(BusError, match="cannot be written"):
            bus.publish_many([("t", b"ok"), (None, b"no topic")])  # type: ignore[list-item]
        assert bus.latest_position() == 0
    finally:
        bus.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version=99")

    with pytest.raises(BusError, match="newer than this ci-pipeline"):
        SqliteBus(f"sqlite:///{path}")


def test_closed_bus_refuses_work(tmp_path: Path) -> None:
    bus = SqliteBus(f"sqlite:///{tmp_path}/bus.sqlite")
    bus.close()
    bus.close()
    with pytest.raises(BusError, match="closed"):
        bus.fetch("s", ["*"])


def _consume(url: str, subscription: str, results: multiprocessing.Queue[list[int]]) -> None:
    bus = SqliteBus(url)
    seen: list[int] = []
    while bus.pending(subscription, ["*"]):
        batch = bus.fetch(subscription, ["*"], limit=20)
        seen.extend(d.position for d in batch)
        bus.ack(subscription, batch)
    bus.close()
    results.put(seen)


def _publish(url: str, name: str, count: int) -> None:
    bus = SqliteBus(url, synchronous="normal")
    for start in range(0, count, 50):
        bus.publish_many([(f"t.{name}", b"%d" % n) for n in range(start, min(start + 50, count))])
    bus.close()


def test_two_processes_consume_one_subscription_without_double_delivery(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bus.sqlite"
    bus = SqliteBus(url)
    bus.publish_many([("t", b"%d" % n) for n in range(1000)])
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[list[int]] = context.Queue()
    workers = [context.Process(target=_consume, args=(url, "relay", results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    seen = [results.get(timeout=60), results.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=30)

    assert all(worker.exitcode == 0 for worker in workers)
    assert sorted(seen[0] + seen[1]) == list(range(1, 1001))
    assert bus.pending("relay", ["*"]) == 0
    bus.close()


def test_processes_publishing_at_once_keep_each_ones_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bus.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_publish, args=(url, name, 1000)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    bus = SqliteBus(url)
    try:
        assert all(worker.exitcode == 0 for worker in workers)
        for name in ("a", "b"):
            payloads = [int(d.payload) for d in bus.replay([f"t.{name}"])]
            assert payloads == list(range(1000))
    finally:
        bus.close()


def _open_and_publish(url: str, start: Any, results: multiprocessing.Queue[str]) -> None:
    start.wait()
    try:
        bus = SqliteBus(url)
        bus.publish("t", b"x")
        bus.close()
        results.put("ok")
    except BusError as exc:
        results.put(str(exc))


def test_processes_opening_a_new_file_at_once_all_get_in(tmp_path: Path) -> None:
    """Switching a new file to WAL races between openers; none may fail with 'locked'."""
    context = multiprocessing.get_context("fork")
    for round_number in range(25):
        url = f"sqlite:///{tmp_path / f'bus{round_number}.sqlite'}"
        results: multiprocessing.Queue[str] = context.Queue()
        start = context.Barrier(4)
        openers = [context.Process(target=_open_and_publish, args=(url, start, results)) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
        assert [results.get() for _ in openers] == ["ok"] * 4
