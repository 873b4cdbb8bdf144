"""Stage logs are read in bounded windows: a huge or sparse log never comes into memory whole."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ci_pipeline.config import Config
from ci_pipeline.web.logs import LOG_WINDOW, MAX_BEHIND, MAX_LINE, LogFollower, read_window

TEN_GIB = 10 * 1024**3


def sparse_log(path: Path, size: int, tail: bytes) -> Path:
    """A log of ``size`` bytes that is a hole but for ``tail`` at its end."""
    with path.open("wb") as handle:
        handle.truncate(size - len(tail))
        handle.seek(size - len(tail))
        handle.write(tail)
    return path


def test_a_small_log_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("one\ntwo\n")
    assert read_window(log) == "one\ntwo\n"


def test_a_sparse_ten_gibibyte_log_is_read_as_its_last_window(tmp_path: Path) -> None:
    log = sparse_log(tmp_path / "build.log", TEN_GIB, b"\n".join(b"line %d" % n for n in range(5)) + b"\n")
    started = time.monotonic()
    text = read_window(log)
    assert time.monotonic() - started < 2
    first, _, rest = text.partition("\n")
    assert first.startswith("[... ") and first.endswith(" bytes of this log are not shown ...]")
    shown = len(rest.encode())
    assert int(first.split()[1]) + shown == TEN_GIB and shown <= LOG_WINDOW
    assert rest.endswith("line 3\nline 4\n")


def test_the_follower_starts_at_the_last_window_then_follows_by_offset(tmp_path: Path) -> None:
    log = sparse_log(tmp_path / "build.log", TEN_GIB, b"before\n")
    follower = LogFollower()
    lines = follower.read(log)
    assert lines[0].startswith("[... ") and lines[-1].endswith("\0before")
    assert sum(len(line) for line in lines[1:]) <= LOG_WINDOW
    assert follower.offset == TEN_GIB and not follower.behind
    with log.open("ab") as handle:
        handle.write(b"after 1\nafter 2\npart")
    assert follower.read(log) == ["after 1", "after 2"]
    assert follower.read(log) == []
    assert follower.rest() == ["part"]


def test_the_follower_reads_a_few_windows_whole_without_skipping(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    lines = [f"line {n:07d} " + "x" * 100 for n in range(3 * LOG_WINDOW // 110)]
    log.write_text("".join(line + "\n" for line in lines))
    assert log.stat().st_size < MAX_BEHIND
    follower, seen, reads = LogFollower(), [], 0
    while True:
        seen += follower.read(log)
        reads += 1
        if not follower.behind:
            break
    assert seen == lines and reads >= 3


def test_a_line_without_end_is_sent_in_pieces(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_bytes(b"x" * (3 * MAX_LINE + 10))
    follower = LogFollower()
    pieces = follower.read(log)
    assert [len(p) for p in pieces] == [MAX_LINE] * 3
    assert follower.rest() == ["x" * 10]


def test_a_new_or_truncated_log_starts_over(tmp_path: Path) -> None:
    first, second = tmp_path / "attempt1.log", tmp_path / "attempt2.log"
    first.write_text("one\ntwo\n")
    second.write_text("again\n")
    follower = LogFollower()
    assert follower.read(first) == ["one", "two"]
    assert follower.read(second) == ["again"]
    second.write_text("x\n")
    assert follower.read(second) == ["x"]
    assert follower.read(tmp_path / "missing.log") == [] and follower.read(None) == []


@pytest.fixture
def huge_build_log(client: httpx.Client, web_config: Config) -> Path:
    """Run 1's build log replaced by a sparse ten gibibytes ending in three lines."""
    log = Path(web_config.state_dir) / "logs" / "1-build.log"
    return sparse_log(log, TEN_GIB, b"first\nlast but one\nlast\n")


def test_the_log_endpoint_answers_a_window_of_a_huge_log(client: httpx.Client, huge_build_log: Path) -> None:
    answer = client.get("/api/v1/runs/1/stages/build/log")
    assert answer.status_code == 200
    assert answer.text.startswith("[... ") and answer.text.endswith("last but one\nlast\n")
    assert len(answer.content) <= LOG_WINDOW + 100
    tail = client.get("/api/v1/runs/1/stages/build/log", params={"tail": 2})
    assert tail.text == "last but one\nlast\n"


def test_the_log_stream_of_a_huge_log_sends_a_window(client: httpx.Client, huge_build_log: Path) -> None:
    with client.stream("GET", "/api/v1/runs/1/stages/build/log/stream") as response:
        body = b"".join(response.iter_bytes())
    assert len(body) <= 6 * LOG_WINDOW + 4096  # a NUL byte of the hole is six as JSON
    events = body.decode().split("\n\n")
    assert events[0].startswith('data: "[... ')
    assert events[-3:] == ['data: "last"', 'event: end\ndata: {"state": "complete", "status": "SUCCESS"}', ""]
