"""A booted machine's serial console: its last lines explain a machine that did not come up."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.logtail import log_tail

CONSOLE_TAIL_LINES = 25


def console_tail(console: Path) -> str:
    """The console's last lines, for a failure reason."""
    return log_tail(console, CONSOLE_TAIL_LINES)
