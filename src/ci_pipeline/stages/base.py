"""What a stage implementation receives and returns, and how it runs a tool.

The types a stage receives and returns are the stage contract (:mod:`ci_pipeline.stage_contract`),
re-exported here for the stages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import GroupTimeout, run_in_group
from ci_pipeline.logtail import log_tail
from ci_pipeline.stage_contract import StageContext, StageFunction, StageResult, TestCaseResult

__all__ = [
    "StageContext", "StageFunction", "StageResult", "TestCaseResult", "log_tail", "run_captured", "run_tool",
]


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
            returncode, _ = run_in_group(argv, cwd=cwd, env=env, stdout=log, timeout=timeout)
        except FileNotFoundError as exc:
            raise InfrastructureError(f"The program {argv[0]} is not installed.") from exc
        except GroupTimeout as exc:
            raise StageFailure(
                f"{failure or argv[0]} did not finish within {exc.timeout:g} s.\n{log_tail(log_path)}"
            ) from exc
    if returncode != 0:
        what = failure or f"{' '.join(argv[:3])} exited with status {returncode}"
        raise StageFailure(f"{what}.\n{log_tail(log_path)}")


def run_captured(
    argv: Sequence[str], log_path: Path, *, cwd: Path, env: Mapping[str, str], timeout: float | None
) -> tuple[int, str]:
    """Run a command and return its exit status and what it printed (stdout and stderr together).

    Its output is appended to ``log_path`` after a ``$ <command>`` line once it ends; its whole process
    group dies with it. The caller words the failures: :class:`GroupTimeout` when it overruns
    ``timeout``, :class:`FileNotFoundError` when the program is missing.
    """
    returncode, output = run_in_group(argv, cwd=cwd, env=env, timeout=timeout)
    text = output.decode("utf-8", "replace")
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(argv)}\n{text}")
    return returncode, text
