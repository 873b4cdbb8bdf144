"""Stage logs read in bounded windows, so that a huge or sparse log file costs the server little.

``read_window`` answers a whole log only when it is small, else its end after a note saying how
much was left out. ``LogFollower`` reads a growing log by offset, at most ``LOG_WINDOW`` bytes at a
time; when the log is more than ``MAX_BEHIND`` bytes ahead of it (a huge or sparse log when a stream
starts, or a stage writing faster than anyone reads), it jumps to the last window, and a note says
how much it left out, rather than reading everything between.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.logtail import tail_lines

#: The most of a log one answer carries, and how far behind its end a stream may fall.
LOG_WINDOW = 1024 * 1024
#: How far behind a log's end a stream may fall before it jumps to the last window.
MAX_BEHIND = 4 * LOG_WINDOW
#: A line longer than this is sent in pieces, so a log without newlines cannot fill the memory.
MAX_LINE = 64 * 1024


def skipped_note(count: int) -> str:
    """The line that stands for ``count`` bytes of log that are not shown."""
    return f"[... {count} bytes of this log are not shown ...]"


def read_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log, each ending in a newline (``?tail=N``)."""
    return "".join(f"{line}\n" for line in tail_lines(path, lines))


def read_window(path: Path, limit: int = LOG_WINDOW) -> str:
    """The log whole when it is at most ``limit`` bytes, else a note and its last lines within ``limit``."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = max(0, size - limit)
        handle.seek(start)
        data = handle.read(limit)
    if start == 0:
        return data.decode("utf-8", "replace")
    newline = data.find(b"\n")
    if 0 <= newline < len(data) - 1:  # start at a whole line when the window holds one
        data, start = data[newline + 1:], start + newline + 1
    return skipped_note(start) + "\n" + data.decode("utf-8", "replace")


@dataclass
class LogFollower:
    """Follows one stage's log by offset; ``behind`` says more was written than the last read took."""

    path: Path | None = None
    offset: int = 0
    pending: bytes = b""
    behind: bool = False

    def read(self, path: Path | None) -> list[str]:
        """The complete lines written to ``path`` since the last read (a new path starts over)."""
        if path != self.path:
            self.path, self.offset, self.pending = path, 0, b""
        self.behind = False
        if path is None or not path.is_file():
            return []
        lines = []
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size < self.offset:  # truncated or replaced in place: start over
                self.offset, self.pending = 0, b""
            if size - self.offset > MAX_BEHIND:
                lines.append(skipped_note(size - LOG_WINDOW - self.offset + len(self.pending)))
                self.offset, self.pending = size - LOG_WINDOW, b""
            handle.seek(self.offset)
            chunk = handle.read(LOG_WINDOW)
        self.offset += len(chunk)
        self.behind = self.offset < size
        pieces = (self.pending + chunk).split(b"\n")
        self.pending = pieces.pop()
        while len(self.pending) > MAX_LINE:
            pieces.append(self.pending[:MAX_LINE])
            self.pending = self.pending[MAX_LINE:]
        return lines + [piece.decode("utf-8", "replace") for piece in pieces]

    def rest(self) -> list[str]:
        """The last line when it has no newline yet (at the end of a stream)."""
        rest, self.pending = self.pending, b""
        return [rest.decode("utf-8", "replace")] if rest else []
