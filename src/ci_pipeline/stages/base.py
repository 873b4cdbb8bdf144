"""What a stage implementation receives and returns, and how it runs a tool.

The types a stage receives and returns are the stage contract (:mod:`ci_pipeline.stage_contract`),
re-exported here for the stages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import kill_group
from ci_pipeline.logtail import log_tail
from ci_pipeline.stage_contract import StageContext, StageFunction, StageResult, TestCaseResult

__all__ = ["StageContext", "StageFunction", "StageResult", "TestCaseResult", "log_tail", "run_tool"]


def run_tool(
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    failure: str = "",
) -> None:
    """Run a command with its output appended to ``log_path``; its whole process group dies with it.

    A non-zero exit raises :class:`StageFailure` with ``failure`` (or the command) and the log's
    tail; a missing program raises :class:`InfrastructureError`.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=None if env is None else dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise InfrastructureError(f"The program {argv[0]} is not installed.") from exc
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            kill_group(process.pid)
            process.wait()
            raise StageFailure(
                f"{failure or argv[0]} did not finish within {timeout:g} s.\n{log_tail(log_path)}"
            ) from exc
        except BaseException:
            kill_group(process.pid)
            process.wait()
            raise
    if returncode != 0:
        what = failure or f"{' '.join(argv[:3])} exited with status {returncode}"
        raise StageFailure(f"{what}.\n{log_tail(log_path)}")
