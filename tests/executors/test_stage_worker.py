"""The stage worker: runs a built-in stage function and turns what it does into an outcome."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.codec import encode_job
from ci_pipeline.executors.stage_worker import main, run_job
from ci_pipeline.logcontext import get_logger
from ci_pipeline.stages import base
from ci_pipeline.stages.base import StageContext, StageResult

log = get_logger("ci_pipeline.tests.stage_worker")


def succeed(ctx: StageContext) -> StageResult:
    log.info("working on %s", ctx.fields["repo"])
    tests = [base.TestCaseResult("t", "PASSED")]
    return StageResult(outputs={"nvr": "vim-1-1.fc26"}, summary="ok", tests=tests)


def fail(ctx: StageContext) -> StageResult:
    raise StageFailure("The build failed.", tests=[base.TestCaseResult("unit", "FAILED", log="boom")])


def flake(ctx: StageContext) -> StageResult:
    raise InfrastructureError("The mirror did not answer.")


def crash(ctx: StageContext) -> StageResult:
    raise ZeroDivisionError("division by zero")


def _job(tmp_path: Path, implementation: str) -> StageContext:
    return StageContext(
        run_id=7, stage="build", attempt=1, fields={"repo": "vim"}, workdir=tmp_path / "work",
        artifacts_dir=tmp_path / "art", artifacts_url="http://a.test/", log_path=tmp_path / "stage.log",
        config=Config(), timeout=5.0, implementation=f"{__name__}:{implementation}",
    )


def test_a_stage_that_returns_is_a_success_with_its_outputs_and_tests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ci_pipeline"):
        outcome = run_job(_job(tmp_path, "succeed"))
    assert outcome.status == "SUCCESS" and outcome.outputs == {"nvr": "vim-1-1.fc26"}
    assert [test["name"] for test in outcome.tests] == ["t"]
    assert caplog.messages == ["[run=7 stage=build] working on vim"]


def test_failures_keep_their_kind_and_a_crash_leaves_its_traceback_in_the_log(tmp_path: Path) -> None:
    failed = run_job(_job(tmp_path, "fail"))
    assert failed.status == "FAILURE" and failed.reason == "The build failed."
    assert failed.tests[0]["log"] == "boom"
    assert run_job(_job(tmp_path, "flake")).infrastructure is True
    crashed = run_job(_job(tmp_path, "crash"))
    assert crashed.reason == "internal error: ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in (tmp_path / "stage.log").read_text()


def test_a_stage_without_an_implementation_says_to_give_it_a_command(tmp_path: Path) -> None:
    job = replace(_job(tmp_path, "succeed"), implementation="ci_pipeline.stages.nowhere:run")
    assert "has no built-in implementation yet" in run_job(job).reason


def test_main_writes_the_outcome_file(tmp_path: Path) -> None:
    job_path, result_path = tmp_path / "job.json", tmp_path / "result.json"
    job_path.write_text(json.dumps(encode_job(_job(tmp_path, "fail"))))
    assert main([str(job_path), str(result_path)]) == 0
    assert json.loads(result_path.read_text())["status"] == "FAILURE"
