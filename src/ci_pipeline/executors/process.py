"""Process-tree control for stage attempts and their tools: a session of their own, death with the parent,
group kills."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``signum`` to this process when the thread that started it dies."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)


def kill_with_parent() -> None:
    """``preexec_fn`` of a stage command: SIGKILL when the scheduler dies, even by ``kill -9``."""
    die_with_parent(signal.SIGKILL)


def terminate_with_parent() -> None:
    """``preexec_fn`` of a stage worker: SIGTERM when the scheduler dies, so it can kill its tools."""
    die_with_parent(signal.SIGTERM)


#: util-linux's setpriv sets the parent-death signal and execs the command. Unlike a ``preexec_fn``,
#: it lets subprocess use vfork, so starting an attempt costs the scheduler a fraction of a millisecond.
SETPRIV = shutil.which("setpriv")


def dying_with_parent(
    argv: Sequence[str], signum: signal.Signals
) -> tuple[list[str], Callable[[], None] | None]:
    """``argv`` made to receive ``signum`` when the scheduler dies, and the ``preexec_fn`` to use, if any."""
    if SETPRIV:
        return [SETPRIV, "--pdeathsig", signum.name.removeprefix("SIG"), *argv], None
    return list(argv), kill_with_parent if signum == signal.SIGKILL else terminate_with_parent


def group_alive(pgid: int) -> bool:
    """Whether any process of the group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, grace: float = 0.0) -> None:
    """Kill the process group ``pgid``: SIGTERM first when ``grace`` > 0, then SIGKILL."""
    if pgid <= 1 or pgid == os.getpgrp():
        return  # never our own group or init, whatever a stale record says
    if grace > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class GroupTimeout(Exception):
    """A command ran past its timeout, and its whole process group was killed."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(f"{' '.join(argv)} did not finish within {timeout:g} s.")
        self.argv = list(argv)
        self.timeout = timeout


def run_in_group(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] = subprocess.PIPE,
    timeout: float | None = None,
) -> tuple[int, bytes]:
    """Run ``argv`` in a session of its own (stdin closed, stderr into stdout) and wait for it.

    Returns its exit status and what it printed (``b""`` unless ``stdout`` is a pipe). When it overruns
    ``timeout``, its process group is killed and :class:`GroupTimeout` raised; when the wait is
    interrupted (a signal, a cancelled worker), the group is killed and the interruption re-raised: no
    process the command started outlives it. A missing program raises :class:`FileNotFoundError`.
    """
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=stdout,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_group(process.pid)
        process.communicate()
        # The timeout asked for: exc.timeout may be only what was left of it for the final wait.
        raise GroupTimeout(argv, exc.timeout if timeout is None else timeout) from exc
    except BaseException:
        kill_group(process.pid)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()  # unread: a process that left the group may still hold it open
        raise
    return process.returncode, output or b""
