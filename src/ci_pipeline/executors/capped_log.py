"""A stage attempt's output, copied from a pipe into its log file up to a cap while the stage writes.

The stage's stdout and stderr are the write end of a pipe; a copier copies what arrives to the log
file until the file holds ``cap`` bytes, then keeps draining the pipe (so the stage never blocks on a
full pipe) and discards the rest, and at the end says in one line how much it dropped. The file is
thus bounded on disk at every moment, however fast the stage writes through the pipe.

A built-in stage's tools (and a command that writes to ``$CI_PIPELINE_LOG``) append to the file
directly instead; the copier cuts the file back to the cap at every chunk it copies and, while
the pipe is silent, every :data:`TRIM_EVERY` seconds, so those writers overshoot by at most what
they write in that time.

One copier thread per process serves every log (started with the first): starting an attempt
registers its pipe instead of starting a thread, which on a busy machine cost the scheduler a
context switch or more before each stage could start.
"""

from __future__ import annotations

import contextlib
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
        #: Set once the copier has written the closing note and closed the file.
        self.closed = threading.Event()
        self._drain_until: float | None = None
        _copier().add(self)

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
        if self.closed.wait(timeout):
            return True
        _copier().stop(self)
        return False

    def _copy_chunk(self) -> bool:
        """Copy what the pipe holds; False once every writer is gone or a stop's drain is over."""
        chunk = os.read(self._read_fd, CHUNK)
        if not chunk:
            return False
        room = self._room()
        if room > 0:
            self._file.write(chunk[:room])
        self.dropped += len(chunk) - min(room, len(chunk))
        return self._drain_until is None or time.monotonic() < self._drain_until

    def _close(self) -> None:
        try:
            self._room()
            dropped = self.dropped + self.trimmed
            if dropped:
                note = (f"\n[ci-pipeline] the log reached its cap of {self.cap} bytes: {dropped} more "
                        "bytes of output were dropped\n")
                self._file.write(note.encode())
        finally:
            os.close(self._read_fd)
            self._file.close()
            self.closed.set()

    def _room(self) -> int:
        """How many more bytes the file may take, once what direct writers added past the cap is cut."""
        size = os.fstat(self._file.fileno()).st_size
        if size > self.cap:
            os.ftruncate(self._file.fileno(), self.cap)
            self.trimmed += size - self.cap
            size = self.cap
        return self.cap - size


class _Copier:
    """The thread that copies every log's pipe of this process.

    Pipes are added to its epoll set by the thread that starts an attempt: the copier is not woken
    for that, so a start costs no switch between the two threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[int, CappedLog] = {}
        self._stopped: list[CappedLog] = []
        self._epoll = select.epoll()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="stage log copier", daemon=True)
        self._thread.start()

    def add(self, log: CappedLog) -> None:
        """Copy ``log``'s pipe from now on."""
        with self._lock:
            self._logs[log._read_fd] = log
            self._epoll.register(log._read_fd, select.EPOLLIN)

    def stop(self, log: CappedLog) -> None:
        """Drain ``log``'s pipe for :data:`DRAIN` s more at most, then close it whoever still writes."""
        with self._lock:
            self._stopped.append(log)
        with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
            os.write(self._wake_write, b".")

    def _run(self) -> None:
        trimmed = time.monotonic()
        while True:
            events = self._epoll.poll(TRIM_EVERY)
            with self._lock:
                logs = dict(self._logs)
                stopped, self._stopped = self._stopped, []
            ready = set()
            for fd, _ in events:
                if fd == self._wake_read:
                    os.read(self._wake_read, 4096)
                elif fd in logs:
                    ready.add(fd)
                    if not _copy_chunk(logs[fd]):
                        self._end(logs[fd])
            for fd, log in logs.items():
                if log._drain_until is not None and fd not in ready:
                    self._end(log)  # told to stop, and the pipe has nothing more now
            for log in stopped:
                log._drain_until = time.monotonic() + DRAIN
            if time.monotonic() - trimmed >= TRIM_EVERY:
                trimmed = time.monotonic()
                for fd, log in logs.items():
                    if fd not in ready and fd in self._logs:
                        try:
                            log._room()  # its pipe is silent: cut what direct writers added
                        except OSError:
                            self._end(log)

    def _end(self, log: CappedLog) -> None:
        with self._lock:
            if self._logs.pop(log._read_fd, None) is None:
                return
            self._epoll.unregister(log._read_fd)
        with contextlib.suppress(OSError):  # a full disk, say: the log is closed all the same
            log._close()


def _copy_chunk(log: CappedLog) -> bool:
    """Copy what ``log``'s pipe holds; False when that log is to end (its failure ends it alone)."""
    try:
        return log._copy_chunk()
    except OSError:
        return False


_COPIER: _Copier | None = None
_COPIER_LOCK = threading.Lock()


def _copier() -> _Copier:
    global _COPIER
    with _COPIER_LOCK:
        if _COPIER is None:
            _COPIER = _Copier()
        return _COPIER


def _forget_copier() -> None:
    """In a forked child the copier thread does not exist: the first log there starts its own."""
    global _COPIER, _COPIER_LOCK
    _COPIER, _COPIER_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_copier)
