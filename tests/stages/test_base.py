"""How a stage runs a tool: its output in the stage log, its failures worded for the stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import GroupTimeout
from ci_pipeline.stages.base import run_captured, run_tool


def test_run_captured_returns_status_and_text_and_appends_them_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    log.write_text("before\n")
    argv = ["sh", "-c", "printf 'out\\377\\n'; echo err >&2; exit 4"]
    assert run_captured(argv, log, cwd=tmp_path, env={}, timeout=10) == (4, "out\ufffd\nerr\n")
    assert log.read_text() == f"before\n$ {' '.join(argv)}\nout\ufffd\nerr\n"


def test_run_captured_leaves_the_wording_of_an_overrun_to_the_caller(tmp_path: Path) -> None:
    with pytest.raises(GroupTimeout) as caught:
        run_captured(["sleep", "5"], tmp_path / "stage.log", cwd=tmp_path, env={}, timeout=0.3)
    assert caught.value.timeout == 0.3


def test_run_tool_logs_the_command_and_its_output(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "stage.log"
    run_tool(["sh", "-c", "echo hello"], log)
    assert log.read_text() == "$ sh -c echo hello\nhello\n"


def test_run_tool_words_overruns_failures_and_missing_programs(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    with pytest.raises(StageFailure, match=r"^the nap did not finish within 0\.3 s\.\n"):
        run_tool(["sleep", "5"], log, timeout=0.3, failure="the nap")
    with pytest.raises(StageFailure, match=r"^sh -c exit 3 exited with status 3\.\n"):
        run_tool(["sh", "-c", "exit 3"], log)
    with pytest.raises(InfrastructureError, match=r"^The program /nonexistent/tool is not installed\.$"):
        run_tool(["/nonexistent/tool"], log)
