"""A stage attempt's output, copied from a pipe into its log file up to a cap while the stage writes.

The stage's stdout and stderr are the write end of a pipe; a thread copies what arrives to the log
file until the file holds ``cap`` bytes, then keeps draining the pipe (so the stage never blocks on a
full pipe) and discards the rest, and at the end says in one line how much it dropped. The file is
thus bounded on disk at every moment, however fast the stage writes.
"""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

CHUNK = 64 * 1024
#: How often the copier looks whether it was told to stop while the pipe is silent.
POLL = 0.25
#: How long the copier drains after being told to stop, should some process still write.
DRAIN = 0.5


class CappedLog:
    """Copies what is written to :attr:`write_fd` into ``path`` until the file holds ``cap`` bytes."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self.cap = cap
        self.dropped = 0
        #: Bytes cut by :meth:`trim` (counted in the caller's thread, reported by the copier's).
        self.trimmed = 0
        self._read_fd, self.write_fd = os.pipe()
        # Unbuffered and O_APPEND: a built-in stage's tools append to the same file directly.
        self._file = path.open("ab", buffering=0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._copy, name=f"log {path.name}", daemon=True)
        self._thread.start()

    def close_writer(self) -> None:
        """Close this process's copy of the write end, once the stage's process holds its own."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def trim(self) -> None:
        """Cut the file back to the cap if writers that bypass the pipe pushed it past.

        A built-in stage's tools append to the log file directly; they are bounded only each time
        this is called, as the pipe's writers are bounded on every write.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size > self.cap:
            os.truncate(self.path, self.cap)  # the writers append (O_APPEND): they go on from the cut
            self.trimmed += size - self.cap

    def finish(self, timeout: float = 0.2) -> bool:
        """Wait up to ``timeout`` s for every writer to close the pipe; True when the log is complete.

        After ``timeout`` the copier drains what is there and stops on its own: a process that
        outlived its stage (possible only without a PID namespace) must not hold the scheduler.
        """
        self.close_writer()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._stop.set()
            return False
        return True

    def _copy(self) -> None:
        try:
            self._pump()
            dropped = self.dropped + self.trimmed
            if dropped:
                note = (f"\n[ci-pipeline] the log reached its cap of {self.cap} bytes: {dropped} more "
                        "bytes of output were dropped\n")
                self._file.write(note.encode())
        finally:
            os.close(self._read_fd)
            self._file.close()

    def _pump(self) -> None:
        drain_until = None
        while True:
            if drain_until is None and self._stop.is_set():
                drain_until = time.monotonic() + DRAIN
            wait = POLL if drain_until is None else 0.0
            ready, _, _ = select.select([self._read_fd], [], [], wait)
            if not ready:
                if drain_until is not None:
                    return
                continue
            chunk = os.read(self._read_fd, CHUNK)
            if not chunk:
                return  # every writer is gone
            self._store(chunk)
            if drain_until is not None and time.monotonic() >= drain_until:
                return

    def _store(self, chunk: bytes) -> None:
        # The file's own size counts: a built-in stage's tools write to it directly as well.
        room = self.cap - os.fstat(self._file.fileno()).st_size
        if room > 0:
            self._file.write(chunk[:room])
        self.dropped += len(chunk) - max(0, min(room, len(chunk)))
