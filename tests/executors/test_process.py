"""A command in a process group of its own: its status and output, and no process of it left behind
when it overruns its timeout or the wait for it is interrupted."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType

import pytest

from ci_pipeline.executors.process import GroupTimeout, run_in_group

from .helpers import marked, new_marker, wait_for_marked


def _gone(marker: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not marked(marker)


def _sleeper(marker: str) -> list[str]:
    """A shell that waits for a child named ``marker`` (same process group) to sleep."""
    return ["bash", "-c", f"(exec -a {marker} sleep 1000) & wait"]


def test_status_and_output_with_stderr_merged() -> None:
    assert run_in_group(["sh", "-c", "echo out; echo err >&2; exit 3"]) == (3, b"out\nerr\n")


def test_cwd_env_and_output_to_a_file(tmp_path: Path) -> None:
    with (tmp_path / "out").open("wb") as out:
        done = run_in_group(["sh", "-c", "pwd; echo $X"], cwd=tmp_path, env={"X": "y"}, stdout=out)
    assert done == (0, b"")
    assert (tmp_path / "out").read_bytes() == f"{tmp_path}\ny\n".encode()


def test_a_missing_program_is_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        run_in_group(["/nonexistent/ci-pipeline-program"])


def test_an_overrun_kills_the_whole_group() -> None:
    marker = new_marker()
    with pytest.raises(GroupTimeout) as caught:
        run_in_group(_sleeper(marker), timeout=0.5)
    assert caught.value.timeout == 0.5
    assert str(caught.value).endswith(" did not finish within 0.5 s.")
    assert _gone(marker)


class _Interrupted(BaseException):
    pass


def test_an_interrupted_wait_kills_the_group_and_goes_on() -> None:
    marker = new_marker()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        wait_for_marked(marker, 1)
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(_Interrupted):
            run_in_group(_sleeper(marker), timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _gone(marker)
