"""Shared by the executor tests: a stage job, waiting for its end, and stage trees found by a marker."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from ci_pipeline.executors.base import Executor, StageContext, StageOutcome


def make_job(tmp_path: Path, command: str | None, **changes: object) -> StageContext:
    """A job of stage build of run 1, its directories under ``tmp_path``."""
    values: dict[str, object] = {
        "run_id": 1,
        "stage": "build",
        "attempt": 1,
        "fields": {"repo": "vim", "message-content": ""},
        "options": {"flavour": "minty"},
        "command": command,
        "implementation": "fake_builtin_stage:run",
        "timeout": None,
        "workdir": tmp_path / "work",
        "artifacts_dir": tmp_path / "artifacts",
        "artifacts_url": "http://artifacts/runs/1/build/",
        "log_path": tmp_path / "logs" / "build.1.log",
    }
    values.update(changes)
    return StageContext(**values)  # type: ignore[arg-type]


def finish(executor: Executor, seconds: float = 20.0) -> StageOutcome:
    """The outcome of the one attempt ``executor`` runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcomes = executor.wait(0.2)
        if outcomes:
            return outcomes[0]
    raise AssertionError("the attempt did not end")


def new_marker() -> str:
    """A name no other process on the machine carries."""
    return f"ci-tree-{uuid.uuid4().hex[:12]}"


def escaping_children(marker: str) -> str:
    """Shell that starts two processes named ``marker-...`` that leave the stage's process group.

    One calls ``setsid`` and keeps the stage's output open; the other is a daemon: double-forked
    (its parent exits at once), in a session of its own, its output detached.
    """
    return (
        f"setsid bash -c 'exec -a {marker}-setsid sleep 1000' & "
        f"( setsid bash -c 'exec -a {marker}-daemon sleep 1000' </dev/null >/dev/null 2>&1 & ); "
    )


def marked(marker: str) -> list[int]:
    """The processes whose name (argv[0]) starts with ``marker``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                argv0 = Path(entry.path, "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if argv0.startswith(marker.encode()):
                found.append(int(entry.name))
    return found


def wait_for_marked(marker: str, count: int, seconds: float = 10.0) -> list[int]:
    """The ``count`` processes named ``marker-...`` once they all run; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while len(marked(marker)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    found = marked(marker)
    assert len(found) == count, f"expected {count} processes named {marker}-*, found {found}"
    return found


def none_left(marker: str, seconds: float = 0.0) -> bool:
    """Whether no process named ``marker-...`` is left, waiting up to ``seconds`` for them to go."""
    deadline = time.monotonic() + seconds
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not marked(marker)
