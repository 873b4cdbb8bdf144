"""Containment of a stage attempt: its whole process tree lives and dies with the attempt.

Where this process may make namespaces (root), an attempt's top process is the init of a PID
namespace of its own, and when the init of a namespace dies the kernel kills every process in it
before the init's exit is seen. So nothing outlives the attempt: not children that call ``setsid``,
not daemons that a build's ``%check`` left after a success, not after ``kill -9`` of the scheduler
(util-linux ``setpriv --pdeathsig KILL`` makes the init die with the thread that started it).

The namespace is made by the starting thread itself: ``unshare(CLONE_NEWPID)`` puts that thread's
next child in a new namespace, the child is spawned (by vfork: a fraction of a millisecond in a
large scheduler), and ``setns`` returns the thread to its own namespace for later children. Only
the one thread is touched (namespaces are per thread), and no thread is started in between (the
kernel refuses one while they differ). Compared with running each attempt under ``unshare --pid
--fork --mount-proc``, this spares an exec, a fork, and a mount namespace with a ``/proc`` to mount
and tear down: over a millisecond of each stage on a test machine. The price is
that an attempt's processes see this machine's ``/proc`` rather than one of their own namespace.
Why not a cgroup per attempt: cgroup v1 has no ``cgroup.kill`` (a kill is freeze, list, signal,
thaw) and nothing ends a cgroup's processes when the scheduler dies.

Elsewhere an attempt falls back to a process group of its own, killed whole, which children that
leave the group escape; the stage log says so once. Both executors (the local one and the Celery
task) start, stop and clean up attempts only through this module.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.executors.capped_log import CappedLog
from ci_pipeline.executors.process import dying_with_parent, group_alive, kill_group

_CLONE_NEWPID = 0x20000000
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
#: How long a leftover's stop waits for its tree to be gone.
STOP_WAIT = 5.0
FALLBACK_NOTE = (
    "[ci-pipeline] this machine gives stage attempts no PID namespace of their own (that needs root "
    "and util-linux unshare): processes that leave the stage's process group may outlive it\n"
)


@functools.cache
def _own_pid_namespace() -> int:
    """A descriptor of this process's PID namespace, to return a thread to it."""
    return os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def _next_child_in_new_pid_namespace() -> Iterator[None]:
    """Within the block, this thread's next child is the init of a new PID namespace."""
    if _LIBC.unshare(_CLONE_NEWPID) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWPID): {os.strerror(error)}")
    try:
        yield
    finally:
        if _LIBC.setns(_own_pid_namespace(), _CLONE_NEWPID) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns back to this process's PID namespace: {os.strerror(error)}")


@functools.cache
def namespaces_usable() -> bool:
    """Whether attempts can run in PID namespaces here: tried once per process."""
    try:
        _own_pid_namespace()
        with _next_child_in_new_pid_namespace():
            probe = subprocess.run(["true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
                                   check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


@dataclass
class Attempt:
    """A running stage attempt: its top process (``unshare``, or the work itself) and its log copier."""

    process: subprocess.Popen[bytes]
    log: CappedLog
    #: Whether a PID namespace holds the tree (else only a process group does).
    isolated: bool

    @property
    def handle(self) -> int:
        """What identifies the attempt's tree on this machine: its process group id."""
        return self.process.pid

    def stop(self, grace: float = 0.0) -> None:
        """Kill the whole tree (SIGTERM first, when ``grace`` > 0) and wait until it is gone."""
        if grace > 0 and self.process.poll() is None:
            # A stage worker (the init) unwinds and kills its own tools.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.handle, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        if self.process.poll() is None or not self.isolated:
            kill_group(self.handle)  # in a namespace, the init's death ends every process in it
        self.process.wait()

    def release(self) -> None:
        """After the top process ended: make sure nothing of the tree is left, and finish the log."""
        self.process.wait()
        if not self.isolated:
            kill_group(self.handle)  # an init, by contrast, ends only once its namespace is empty
        self.log.finish()

    @property
    def exit_status(self) -> int:
        """The top process's exit status, a death by signal N as the shell says it: 128 + N."""
        code = self.process.wait()
        return 128 - code if code < 0 else code


def start_attempt(argv: Sequence[str], init_signal: signal.Signals, *, cwd: Path, env: Mapping[str, str],
                  log_path: Path, log_cap: int) -> Attempt:
    """Start ``argv`` contained, its output copied to ``log_path`` up to ``log_cap`` bytes.

    When the starter dies, a namespace is killed whole. Without one, ``argv`` gets ``init_signal``:
    SIGTERM lets a stage worker unwind and kill its tools, which run in sessions of their own.
    """
    isolated = namespaces_usable()
    log = CappedLog(log_path, log_cap)  # its thread starts before the namespace: see the module doc
    if isolated:
        command, preexec = dying_with_parent(argv, signal.SIGKILL)
    else:
        os.write(log.write_fd, FALLBACK_NOTE.encode())
        command, preexec = dying_with_parent(argv, init_signal)
    try:
        with _next_child_in_new_pid_namespace() if isolated else contextlib.nullcontext():
            process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log.write_fd, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=preexec)
    except BaseException:
        log.finish(0)
        raise
    log.close_writer()
    return Attempt(process, log, isolated)


def stop_leftover(handle: int, marks: Mapping[str, str]) -> bool:
    """Kill the tree of an attempt that a dead scheduler left: the process group ``handle``.

    Only when one of the group's processes has every variable of ``marks`` in its environment: a
    process group id recorded long ago, or by a scheduler on another machine, may now be anyone's.
    True when such a tree was found; it is gone on return (or after :data:`STOP_WAIT` s).
    """
    wanted = {f"{key}={value}".encode() for key, value in marks.items()}
    if handle <= 1 or not group_alive(handle):
        return False
    if not any(wanted <= _environment(pid) for pid in _group_members(handle)):
        return False
    # Killing the group kills the namespace init in it, and with it the namespace.
    kill_group(handle)
    deadline = time.monotonic() + STOP_WAIT
    while group_alive(handle) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _group_members(pgid: int) -> list[int]:
    return [pid for pid, _, group in _processes() if group == pgid]


def _processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group id) of every process this one can see."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield from _process(int(entry.name))


def _process(pid: int) -> list[tuple[int, int, int]]:
    """[(pid, parent pid, process group id)] of ``pid``, or [] when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # The fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
    fields = stat.rpartition(")")[2].split()
    return [(pid, int(fields[1]), int(fields[2]))] if len(fields) > 2 else []


def _environment(pid: int) -> set[bytes]:
    try:
        return set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return set()
