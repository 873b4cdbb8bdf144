"""The stage deadline and running a tool for its output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.tools import MINIMUM_TOOL_SECONDS, Deadline, capture_tool


def test_deadline_without_timeout_never_limits() -> None:
    assert Deadline(None).remaining() is None


def test_deadline_counts_down_and_then_fails() -> None:
    left = Deadline(100).remaining()
    assert left is not None and 99 < left <= 100
    spent = Deadline(0.01)
    time.sleep(0.02)
    with pytest.raises(StageFailure, match="ran out of time"):
        spent.remaining()


def test_deadline_leaves_a_tool_at_least_the_minimum() -> None:
    assert Deadline(0.5).remaining() == MINIMUM_TOOL_SECONDS


def test_capture_tool_returns_output_and_logs_it(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    log.write_text("before\n")
    assert capture_tool(["sh", "-c", "echo out; echo err >&2"], log) == "out\nerr\n"
    assert log.read_text() == "before\n$ sh -c echo out; echo err >&2\nout\nerr\n"


def test_capture_tool_failure_still_logs(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    with pytest.raises(StageFailure, match="it broke"):
        capture_tool(["sh", "-c", "echo trouble; exit 3"], log, failure="it broke")
    assert "trouble" in log.read_text()
