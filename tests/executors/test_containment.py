"""Stage attempts are contained: nothing they start outlives them, however they end.

Each attempt below starts two processes that leave its process group (one calls ``setsid``, one is a
double-forked daemon); whether the attempt succeeds, times out, is killed, or its executor's process
dies by SIGKILL, none of them is left afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.executors import containment
from ci_pipeline.executors.containment import start_attempt, stop_leftover
from ci_pipeline.executors.local import LocalExecutor, attempt_marks
from ci_pipeline.messages.topics import Status

from .helpers import escaping_children, finish, make_job, marked, new_marker, none_left, wait_for_marked

HERE = Path(__file__).resolve().parent


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    """A local executor of one slot, shut down after the test."""
    executor = LocalExecutor(1)
    yield executor
    executor.shutdown()


def test_this_machine_gives_attempts_pid_namespaces() -> None:
    # The tests run as root with util-linux: the contained path, not the fallback, is under test.
    assert os.geteuid() == 0 and containment.namespaces_usable()


def test_nothing_outlives_a_successful_attempt(tmp_path: Path, executor: LocalExecutor) -> None:
    marker = new_marker()
    command = escaping_children(marker) + f"until [ $(pgrep -c -f '^{marker}') = 2 ]; do sleep 0.02; done"
    executor.start(make_job(tmp_path, command))
    outcome = finish(executor)
    assert outcome.status == Status.SUCCESS, outcome.reason
    assert none_left(marker)


def test_nothing_outlives_an_attempt_that_timed_out(tmp_path: Path, executor: LocalExecutor) -> None:
    marker = new_marker()
    executor.start(make_job(tmp_path, escaping_children(marker) + "sleep 1000", timeout=60))
    wait_for_marked(marker, 2)
    executor._running[(1, "build")].deadline = time.monotonic()  # time out now that the tree stands
    outcome = finish(executor)
    assert outcome.status == Status.FAILURE and "did not finish within 60 s" in outcome.reason
    assert none_left(marker)


def test_nothing_outlives_a_killed_attempt(tmp_path: Path, executor: LocalExecutor) -> None:
    marker = new_marker()
    executor.start(make_job(tmp_path, escaping_children(marker) + "sleep 1000"))
    wait_for_marked(marker, 2)
    assert executor.kill((1, "build"))
    assert none_left(marker)


def test_shutdown_leaves_nothing(tmp_path: Path) -> None:
    marker = new_marker()
    executor = LocalExecutor(1)
    executor.start(make_job(tmp_path, escaping_children(marker) + "sleep 1000"))
    wait_for_marked(marker, 2)
    executor.shutdown()
    assert none_left(marker) and executor.running() == set()


@pytest.mark.parametrize("built_in", [False, True], ids=["command", "built-in"])
def test_nothing_outlives_the_executor_process_killed_by_sigkill(tmp_path: Path, built_in: bool) -> None:
    marker = new_marker()
    command = None if built_in else escaping_children(marker) + "sleep 1000"
    job = {"tmp": str(tmp_path), "command": command, "marker": marker}
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from ci_pipeline.executors.local import LocalExecutor\n"
        "from helpers import make_job\n"
        "job = json.loads(sys.argv[1])\n"
        "LocalExecutor(1).start(make_job(Path(job['tmp']), job['command'],\n"
        "    options={'marker': job['marker']}, implementation='fake_builtin_stage:hang_with_daemon'))\n"
        "time.sleep(1000)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    parent = subprocess.Popen([sys.executable, "-c", script, json.dumps(job)], env=env)
    try:
        wait_for_marked(marker, 2)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    # The kernel tears the namespace down once the executor is gone: give it a moment.
    assert none_left(marker, seconds=5)
    assert _worker_pids(tmp_path) == []  # nor the stage worker, for a built-in stage


def test_nothing_a_built_in_stages_tool_left_outlives_its_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: LocalExecutor
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    marker = new_marker()
    job = make_job(tmp_path, None, implementation="fake_builtin_stage:leave_daemon",
                   options={"marker": marker})
    executor.start(job)
    outcome = finish(executor)
    assert outcome.status == Status.SUCCESS, outcome.reason
    assert len(outcome.outputs["left"].split()) == 2  # the tool's daemons ran when the stage ended
    assert none_left(marker)


def test_a_restarted_scheduler_stops_only_the_attempt_it_names(tmp_path: Path) -> None:
    marker = new_marker()
    env = {**os.environ, **attempt_marks(7, "image", 2)}
    tmp_path.joinpath("work").mkdir()
    attempt = start_attempt(["bash", "-c", escaping_children(marker) + "sleep 1000"], signal.SIGKILL,
                            cwd=tmp_path / "work", env=env, log_path=tmp_path / "log", log_cap=4096)
    try:
        wait_for_marked(marker, 2)
        # Another attempt's marks, or a process group that is not an attempt: nothing is touched.
        assert not stop_leftover(attempt.handle, attempt_marks(7, "image", 1))
        assert not stop_leftover(os.getpgrp(), attempt_marks(7, "image", 2))
        assert len(marked(marker)) == 2
        assert stop_leftover(attempt.handle, attempt_marks(7, "image", 2))
        assert none_left(marker)
    finally:
        attempt.stop()
        attempt.release()


def test_without_namespaces_the_group_is_killed_and_the_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: LocalExecutor
) -> None:
    monkeypatch.setattr(containment, "namespaces_usable", lambda: False)
    marker = new_marker()
    executor.start(make_job(tmp_path, f"bash -c 'exec -a {marker}-child sleep 1000' & sleep 1000"))
    wait_for_marked(marker, 1)
    assert executor.kill((1, "build"))
    assert none_left(marker, seconds=5)
    log = (tmp_path / "logs" / "build.1.log").read_text()
    assert log.count(containment.FALLBACK_NOTE) == 1


def _worker_pids(tmp_path: Path) -> list[int]:
    """Processes whose command line names ``tmp_path`` (a stage worker names its job file there)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if str(tmp_path).encode() in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
