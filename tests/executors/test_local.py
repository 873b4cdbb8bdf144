"""The local executor: command and built-in attempts, capped logs, timeouts that kill whole trees."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.executors.local import LocalExecutor, boot_id, handle_group
from ci_pipeline.executors.process import group_alive
from ci_pipeline.messages.topics import Status

from .helpers import finish, make_job

HERE = Path(__file__).resolve().parent


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    """A local executor of one slot, shut down (its attempts killed) after the test."""
    executor = LocalExecutor(1)
    yield executor
    executor.shutdown()


def test_a_command_gets_fields_as_variables_and_hands_on_outputs(
    tmp_path: Path, executor: LocalExecutor
) -> None:
    command = 'test "$REPO" = vim && echo "nvr=vim-1-1" > "$CI_PIPELINE_OUTPUTS" && echo built'
    executor.start(make_job(tmp_path, command))
    outcome = finish(executor)
    assert (outcome.status, dict(outcome.outputs)) == (Status.SUCCESS, {"nvr": "vim-1-1"})
    assert (tmp_path / "logs" / "build.1.log").read_text() == "built\n"
    assert executor.running() == set() and executor.free_slots() == 1


def test_exit_75_is_an_infrastructure_failure(tmp_path: Path, executor: LocalExecutor) -> None:
    executor.start(make_job(tmp_path, "exit 75"))
    outcome = finish(executor)
    assert outcome.status == Status.FAILURE and outcome.infrastructure
    assert outcome.reason == "The build command exited with status 75."


def test_a_log_past_the_cap_is_cut_with_a_note(tmp_path: Path, executor: LocalExecutor) -> None:
    executor.log_cap = 4096
    executor.start(make_job(tmp_path, "head -c 100000 /dev/zero | tr '\\0' x; echo"))
    assert finish(executor).status == Status.SUCCESS
    log = (tmp_path / "logs" / "build.1.log").read_bytes()
    note = b"\n[ci-pipeline] the log reached its cap of 4096 bytes: 95905 more bytes of output were dropped\n"
    assert log == b"x" * 4096 + note


def test_a_timeout_kills_the_whole_process_tree(tmp_path: Path, executor: LocalExecutor) -> None:
    marker = "1000.31337"
    command = f"sleep {marker} & sleep {marker} & bash -c 'sleep {marker}' & wait"
    pgid = _group(executor.start(make_job(tmp_path, command, timeout=0.5)))
    started = time.monotonic()
    while len(_pids(marker)) < 3 and time.monotonic() - started < 5:
        time.sleep(0.02)
    assert len(_pids(marker)) == 3
    outcome = finish(executor)
    assert outcome.status == Status.FAILURE and not outcome.infrastructure
    assert outcome.reason == "The build stage did not finish within 0.5 s and was killed."
    assert _gone(pgid) and _pids(marker) == []


def test_kill_stops_a_running_attempt_and_reports_nothing(tmp_path: Path, executor: LocalExecutor) -> None:
    pgid = _group(executor.start(make_job(tmp_path, "sleep 1000.4242 & wait")))
    assert executor.kill((1, "build")) and not executor.kill((1, "build"))
    assert executor.wait(0.1) == [] and _gone(pgid)


def test_a_built_in_stage_runs_through_the_stage_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: LocalExecutor
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    executor.start(make_job(tmp_path, None))
    outcome = finish(executor)
    assert outcome.status == Status.SUCCESS, outcome.reason
    assert dict(outcome.outputs) == {"marker": "abc123"} and outcome.summary == "two tests"
    assert [dict(test) for test in outcome.tests] == [
        {"name": "boots", "outcome": "PASSED", "duration": 0.25, "log": "it booted"},
        {"name": "ssh", "outcome": "FAILED", "duration": 1.5, "log": "connection refused"},
    ]
    assert "fake stage build of run 1, repo vim" in (tmp_path / "logs" / "build.1.log").read_text()
    assert (tmp_path / "artifacts" / "made.txt").read_text() == "minty"


@pytest.mark.parametrize(
    ("implementation", "reason", "infrastructure"),
    [
        ("fake_builtin_stage:fail", "The build stage found nothing to do.", False),
        ("fake_builtin_stage:flaky", "The test machine went away.", True),
        ("fake_builtin_stage:crash", "internal error: ZeroDivisionError: division by zero", False),
        ("fake_builtin_stage:missing", "The build stage has no built-in implementation yet; "
         "give it a run command in the pipeline file.", False),
    ],
)
def test_built_in_failures_are_reported(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    executor: LocalExecutor,
    implementation: str,
    reason: str,
    infrastructure: bool,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    executor.start(make_job(tmp_path, None, implementation=implementation))
    outcome = finish(executor)
    assert (outcome.status, outcome.reason) == (Status.FAILURE, reason)
    assert outcome.infrastructure == infrastructure


def _pids(marker: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"^sleep {marker}$"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def _group(handle: str) -> int:
    """The process group an attempt's handle names on this boot."""
    pgid = handle_group(handle)
    assert pgid is not None, handle
    return pgid


def _gone(pgid: int) -> bool:
    """Whether the group is gone: killed processes stay until their new parent reaps them."""
    deadline = time.monotonic() + 5
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not group_alive(pgid)


def test_a_handle_names_its_process_group_on_this_boot_only(tmp_path: Path, executor: LocalExecutor) -> None:
    handle = executor.start(make_job(tmp_path, "sleep 1000.5151"))
    try:
        pgid = _group(handle)
        assert handle == f"{pgid}@{boot_id()}" and boot_id()
        assert handle_group(str(pgid)) == pgid  # as recorded before handles named their boot
        assert handle_group(f"{pgid}@another-boot") is None
        assert handle_group("") is None and handle_group("task:7") is None and handle_group("-1") is None
        # Another machine's (or boot's) handle is never this machine's process group.
        assert not executor.stop_leftover(1, "build", 1, f"{pgid}@another-boot")
        assert _pids("1000.5151") != []
        assert executor.stop_leftover(1, "build", 1, handle)
        assert finish(executor).reason == "The build command exited with status 137."  # SIGKILL
        assert _gone(pgid)
    finally:
        executor.shutdown()
