"""Stage logs stay within their cap on disk while the stage writes, and say how much was dropped."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ci_pipeline.executors.capped_log import CappedLog
from ci_pipeline.executors.local import LOG_CAP_BYTES, LocalExecutor
from ci_pipeline.messages.topics import Status

from .helpers import make_job

FLOOD = 100 * 1000 * 1000
#: Room for the closing note past the cap.
NOTE_MARGIN = 200


def _note(cap: int, dropped: int) -> bytes:
    return (f"\n[ci-pipeline] the log reached its cap of {cap} bytes: {dropped} more bytes of output "
            "were dropped\n").encode()


def test_a_flood_never_takes_the_log_past_its_cap_while_it_is_written(tmp_path: Path) -> None:
    executor = LocalExecutor(1)
    job = make_job(tmp_path, f"yes 'a line of stage output' | head -c {FLOOD}")
    executor.start(job)
    sizes = []
    outcomes = []
    deadline = time.monotonic() + 120
    while not outcomes and time.monotonic() < deadline:
        outcomes = executor.wait(0.002)
        sizes.append(job.log_path.stat().st_size)
    executor.shutdown()
    assert outcomes and outcomes[0].status == Status.SUCCESS, outcomes
    # Sampled through the run (the log fills up within it), never past the cap and the note.
    assert len(sizes) > 10 and sizes[0] < LOG_CAP_BYTES <= max(sizes)
    assert max(sizes) <= LOG_CAP_BYTES + NOTE_MARGIN
    log = job.log_path.read_bytes()
    assert log.endswith(_note(LOG_CAP_BYTES, FLOOD - LOG_CAP_BYTES))
    assert len(log) == LOG_CAP_BYTES + len(_note(LOG_CAP_BYTES, FLOOD - LOG_CAP_BYTES))


def test_output_within_the_cap_is_copied_whole_without_a_note(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "log", 100)
    os.write(log.write_fd, b"hello\n")
    assert log.finish()
    assert (tmp_path / "log").read_bytes() == b"hello\n"


def test_direct_writes_past_the_cap_are_cut_at_the_next_chunk(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = CappedLog(path, 100)
    with path.open("ab") as direct:  # as a built-in stage's tools write
        direct.write(b"d" * 150)
    os.write(log.write_fd, b"piped")
    assert log.finish()
    assert path.read_bytes() == b"d" * 100 + _note(100, 55)


def test_direct_writes_past_the_cap_are_cut_while_the_pipe_is_silent(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = CappedLog(path, 100)
    with path.open("ab") as direct:
        direct.write(b"d" * 150)
    deadline = time.monotonic() + 5
    while path.stat().st_size > 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size == 100
    assert log.finish()
    assert path.read_bytes() == b"d" * 100 + _note(100, 50)


def test_a_writer_that_never_closes_does_not_hold_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = CappedLog(path, 100)
    kept = os.dup(log.write_fd)  # as a process that outlived its stage would keep it
    try:
        os.write(kept, b"early\n")
        started = time.monotonic()
        assert not log.finish(timeout=0.2)
        assert time.monotonic() - started < 1.0
        assert log.closed.wait(5)  # the copier drained and stopped by itself
        assert path.read_bytes() == b"early\n"
    finally:
        os.close(kept)
