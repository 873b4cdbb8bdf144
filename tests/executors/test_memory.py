"""The in-memory executor: outcomes from a script or the built-in stage, at once, in this process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline import stage_contract
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.memory import MemoryExecutor
from ci_pipeline.messages.topics import Status
from ci_pipeline.stage_contract import StageContext, StageResult

from .helpers import make_job

HERE = Path(__file__).resolve().parent


@pytest.fixture
def builtin_path() -> Iterator[None]:
    """The folder of the fake built-in stages on the import path, as a stage worker would have it."""
    sys.path.insert(0, str(HERE))
    yield
    sys.path.remove(str(HERE))


def _flaky(job: StageContext) -> StageResult:
    raise InfrastructureError(f"attempt {job.attempt} lost its machine")


def _failing(job: StageContext) -> StageResult:
    raise StageFailure("1 of 1 tests failed", tests=[stage_contract.TestCaseResult("t", "FAILED")])


def _outputs(job: StageContext) -> StageResult:
    return StageResult(outputs={"nvr": f"{job.fields['repo']}-1-1"}, summary="built")


def test_scripted_outcomes_are_there_at_the_next_wait(tmp_path: Path) -> None:
    executor = MemoryExecutor(3, script={"build": _outputs, "compose": _flaky, "image": _failing})
    for stage in ("build", "compose", "image"):
        assert executor.start(make_job(tmp_path, "sleep 1000", stage=stage)) == ""
    assert executor.running() == {(1, "build"), (1, "compose"), (1, "image")} and executor.free_slots() == 0
    outcomes = {outcome.stage: outcome for outcome in executor.wait(1000.0)}
    assert (outcomes["build"].status, outcomes["build"].outputs) == (Status.SUCCESS, {"nvr": "vim-1-1"})
    assert outcomes["compose"].infrastructure and outcomes["compose"].reason == "attempt 1 lost its machine"
    assert outcomes["image"].status == Status.FAILURE and outcomes["image"].tests == (
        {"name": "t", "outcome": "FAILED", "duration": 0.0, "log": ""},
    )
    assert executor.running() == set() and executor.wait(1000.0) == []


def test_an_unscripted_command_succeeds_without_running(tmp_path: Path) -> None:
    executor = MemoryExecutor()
    executor.start(make_job(tmp_path, f"touch {tmp_path / 'ran'}; exit 3"))
    [outcome] = executor.wait(0)
    assert (outcome.status, outcome.outputs) == (Status.SUCCESS, {})
    assert not (tmp_path / "ran").exists()


def test_a_built_in_stage_runs_in_this_process(tmp_path: Path, builtin_path: None) -> None:
    executor = MemoryExecutor()
    executor.start(make_job(tmp_path, None))
    [outcome] = executor.wait(0)
    assert (outcome.status, outcome.outputs) == (Status.SUCCESS, {"marker": "abc123"})
    assert outcome.summary == "two tests"
    assert (tmp_path / "artifacts" / "made.txt").read_text() == "minty"
    executor.start(make_job(tmp_path, None, implementation="fake_builtin_stage:crash"))
    [crashed] = executor.wait(0)
    assert crashed.reason == "internal error: ZeroDivisionError: division by zero"
    executor.start(make_job(tmp_path, None, implementation="no_such_stage_module:run"))
    [missing] = executor.wait(0)
    assert missing.status == Status.FAILURE and "has no built-in implementation yet" in missing.reason


def test_a_held_stage_runs_until_released_or_killed(tmp_path: Path) -> None:
    executor = MemoryExecutor(script={"build": _outputs}, hold={"build", "smoke"})
    executor.start(make_job(tmp_path, "true"))
    executor.start(make_job(tmp_path, "true", stage="smoke"))
    assert executor.wait(5.0) == [] and executor.running() == {(1, "build"), (1, "smoke")}
    assert executor.release((1, "build")) and not executor.release((1, "build"))
    assert [outcome.outputs for outcome in executor.wait(0)] == [{"nvr": "vim-1-1"}]
    assert executor.kill((1, "smoke")) and not executor.kill((1, "smoke"))
    assert executor.wait(0) == [] and executor.running() == set()
    assert [job.stage for job in executor.started] == ["build", "smoke"]
