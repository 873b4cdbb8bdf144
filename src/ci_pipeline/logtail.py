"""The end of a log file, read from its end so that a huge log costs no more than a small one.

Failure reasons quote a log's last lines (:func:`log_tail`), the API answers ``?tail=N`` with them
(:func:`tail_lines`) and a Celery worker returns a log's last bytes (:func:`tail_bytes`).
"""

from __future__ import annotations

import os
from pathlib import Path

#: How many lines of a log a failure reason quotes.
LOG_TAIL_LINES = 30
#: The least read from a log's end for its last lines (more for many lines: about 400 bytes each).
_LINES_WINDOW = 65536


def tail_bytes(path: Path, limit: int) -> bytes:
    """The last ``limit`` bytes of the file ``path`` (all of it when smaller); OSError if unreadable."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - limit))
        return handle.read()


def tail_lines(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of the text file ``path``; OSError if unreadable."""
    if lines <= 0:
        return []
    text = tail_bytes(path, max(_LINES_WINDOW, lines * 400)).decode("utf-8", "replace")
    return text.splitlines()[-lines:]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log, for a failure reason; empty when it cannot be read."""
    try:
        return "\n".join(tail_lines(path, lines))
    except OSError:
        return ""
