"""A stage attempt's output, copied from a pipe into its log file up to a cap while the stage writes.

The stage's stdout and stderr are the write end of a pipe; a thread copies what arrives to the log
file until the file holds ``cap`` bytes, then keeps draining the pipe (so the stage never blocks on a
full pipe) and discards the rest, and at the end says in one line how much it dropped. The file is
thus bounded on disk at every moment, however fast the stage writes through the pipe.

A built-in stage's tools (and a command that writes to ``$CI_PIPELINE_LOG``) append to the file
directly instead; the same thread cuts the file back to the cap at every chunk it copies and, while
the pipe is silent, every :data:`TRIM_EVERY` seconds, so those writers overshoot by at most what
they write in that time.
"""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

CHUNK = 64 * 1024
#: How often, while the pipe is silent, the copier cuts what direct writers added past the cap.
TRIM_EVERY = 0.05
#: How long the copier drains after being told to stop, should some process still write.
DRAIN = 0.5


class CappedLog:
    """Copies what is written to :attr:`write_fd` into ``path`` until the file holds ``cap`` bytes."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self.cap = cap
        #: Bytes of the pipe not copied, and bytes of direct writers cut off.
        self.dropped = 0
        self.trimmed = 0
        self._read_fd, self.write_fd = os.pipe()
        # Unbuffered and O_APPEND: direct writers append to the same file, and a cut keeps it so.
        self._file = path.open("ab", buffering=0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._copy, name=f"log {path.name}", daemon=True)
        self._thread.start()

    def close_writer(self) -> None:
        """Close this process's copy of the write end, once the stage's process holds its own."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def finish(self, timeout: float = 0.2) -> bool:
        """Wait up to ``timeout`` s for every writer to close the pipe; True when the log is complete.

        After ``timeout`` the copier drains what is there and stops on its own: a process that
        outlived its stage (possible only without a PID namespace) must not hold the caller.
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
            self._room()
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
            ready, _, _ = select.select([self._read_fd], [], [], TRIM_EVERY if drain_until is None else 0.0)
            if not ready:
                if drain_until is not None:
                    return
                self._room()
                continue
            chunk = os.read(self._read_fd, CHUNK)
            if not chunk:
                return  # every writer is gone
            self._store(chunk)
            if drain_until is not None and time.monotonic() >= drain_until:
                return

    def _store(self, chunk: bytes) -> None:
        room = self._room()
        if room > 0:
            self._file.write(chunk[:room])
        self.dropped += len(chunk) - min(room, len(chunk))

    def _room(self) -> int:
        """How many more bytes the file may take, once what direct writers added past the cap is cut."""
        size = os.fstat(self._file.fileno()).st_size
        if size > self.cap:
            os.ftruncate(self._file.fileno(), self.cap)
            self.trimmed += size - self.cap
            size = self.cap
        return self.cap - size
