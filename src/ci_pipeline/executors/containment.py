"""Containment of a stage attempt: its whole process tree lives and dies with the attempt.

Where this process may make namespaces (root, util-linux ``unshare``), an attempt runs as
``setpriv --pdeathsig KILL unshare --pid --fork --mount-proc --kill-child ARGV``: ARGV is the
init of a PID namespace of its own (with its own ``/proc``), and when the init of a namespace dies
the kernel kills every process in it. So nothing outlives the attempt: not children that call
``setsid``, not daemons that a build's ``%check`` left after a success, not after ``kill -9`` of the
scheduler (its death kills ``unshare``, whose ``--kill-child`` ends the init). ``unshare`` blocks
SIGTERM and reaps the init, so its exit means the namespace is empty.

Why util-linux's ``unshare`` rather than ``os.unshare`` (Python 3.12) in a ``preexec_fn``: a new PID
namespace takes only the caller's next child, so a fork in the child is needed anyway, and a
``preexec_fn`` costs the scheduler a fork instead of a vfork. Why not a cgroup per attempt: cgroup
v1 has no ``cgroup.kill`` (a kill is freeze, list, signal, thaw) and nothing ends a cgroup's processes
when the scheduler dies.

Elsewhere an attempt falls back to a process group of its own, killed whole, which children that
leave the group escape; the stage log says so once. Both executors (the local one and the Celery
task) start, stop and clean up attempts only through this module.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.executors.capped_log import CappedLog
from ci_pipeline.executors.process import dying_with_parent, group_alive, kill_group

UNSHARE = shutil.which("unshare")
_NAMESPACE_OPTIONS = ("--pid", "--fork", "--mount-proc")
#: How long a stop waits for a tree to be gone before it gives up on the namespace's orderly end.
STOP_WAIT = 5.0
FALLBACK_NOTE = (
    "[ci-pipeline] this machine gives stage attempts no PID namespace of their own (that needs root "
    "and util-linux unshare): processes that leave the stage's process group may outlive it\n"
)


@functools.cache
def namespaces_usable() -> bool:
    """Whether attempts can run in PID namespaces here: tried once per process."""
    if UNSHARE is None:
        return False
    try:
        probe = subprocess.run([UNSHARE, *_NAMESPACE_OPTIONS, "--kill-child", "true"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def contained_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` as the init of a PID namespace of its own, killed when ``unshare`` dies."""
    return [str(UNSHARE), *_NAMESPACE_OPTIONS, "--kill-child", *argv]


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
            # unshare blocks SIGTERM; the init (a stage worker) unwinds and kills its own tools.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.handle, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        if self.isolated:
            self._end_namespace()
        if self.process.poll() is None or not self.isolated:
            kill_group(self.handle)
        self.process.wait()

    def release(self) -> None:
        """After the top process ended: make sure nothing of the tree is left, and finish the log."""
        self.process.wait()
        if not self.isolated:
            kill_group(self.handle)  # unshare, by contrast, ends only once its namespace is empty
        self.log.finish()

    def _end_namespace(self) -> None:
        # Kill the init, not unshare: unshare reaps it, and the kernel reaps the namespace first.
        deadline = time.monotonic() + STOP_WAIT
        while self.process.poll() is None:
            init = _first_child(self.process.pid)
            if init is not None:
                _kill_child(self.process.pid, init)
            elif time.monotonic() >= deadline:
                return  # never forked: the caller's group kill ends it
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(0.01)


def start_attempt(argv: Sequence[str], init_signal: signal.Signals, *, cwd: Path, env: Mapping[str, str],
                  log_path: Path, log_cap: int) -> Attempt:
    """Start ``argv`` contained, its output copied to ``log_path`` up to ``log_cap`` bytes.

    When the starter dies, a namespace is killed whole. Without one, ``argv`` gets ``init_signal``:
    SIGTERM lets a stage worker unwind and kill its tools, which run in sessions of their own.
    """
    isolated = namespaces_usable()
    log = CappedLog(log_path, log_cap)
    if isolated:
        command, preexec = dying_with_parent(contained_argv(argv), signal.SIGKILL)
    else:
        os.write(log.write_fd, FALLBACK_NOTE.encode())
        command, preexec = dying_with_parent(argv, init_signal)
    try:
        process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
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
    # Killing the group kills each namespace init in it, and with it the namespace.
    kill_group(handle)
    deadline = time.monotonic() + STOP_WAIT
    while group_alive(handle) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _first_child(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN
        children = [str(child) for child, ppid, _ in _processes() if ppid == pid]
    return int(children[0]) if children else None


def _kill_child(parent: int, pid: int) -> None:
    """SIGKILL ``pid`` if it is still the child of ``parent``: never a process that reused the pid."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        # Checked through the pidfd's process: a pid read a moment ago may be someone else's by now.
        if any(child == pid and ppid == parent for child, ppid, _ in _process(pid)):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


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
