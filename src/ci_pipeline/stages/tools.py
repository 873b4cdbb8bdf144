"""Tool-running helpers of the build stage: a stage-wide deadline and a run that returns output.

Both sit on :func:`ci_pipeline.stages.base.run_tool`, so every command is logged to the stage log
and killed with its whole process group when it overruns.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import run_tool

#: The least time a tool is given, so an almost spent deadline still fails through the tool's timeout.
MINIMUM_TOOL_SECONDS = 1.0


class Deadline:
    """The time left of a stage's timeout, handed to each tool it runs (``None`` = no limit)."""

    def __init__(self, timeout: float | None, stage: str = "build") -> None:
        self._end = None if timeout is None else time.monotonic() + timeout
        self._stage = stage

    def remaining(self) -> float | None:
        """Seconds left for the next tool, or ``None`` when the stage has no timeout."""
        if self._end is None:
            return None
        left = self._end - time.monotonic()
        if left <= 0:
            raise StageFailure(f"The {self._stage} stage ran out of time.")
        return max(left, MINIMUM_TOOL_SECONDS)


def capture_tool(
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    failure: str = "",
) -> str:
    """Run a tool as :func:`run_tool` does and return what it printed (stdout and stderr together).

    The output is also appended to ``log_path``, so the stage log stays complete.
    """
    with tempfile.TemporaryDirectory(prefix="ci-pipeline-capture-") as scratch:
        output_path = Path(scratch) / "output"
        try:
            run_tool(argv, output_path, cwd=cwd, env=env, timeout=timeout, failure=failure)
        finally:
            printed = output_path.read_bytes() if output_path.exists() else b""
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("ab") as log:
                log.write(printed)
    # run_tool writes "$ <command>" as the first line; the caller wants only the tool's words.
    _, _, body = printed.decode("utf-8", "replace").partition("\n")
    return body
