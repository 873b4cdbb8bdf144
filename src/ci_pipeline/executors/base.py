"""The executor interface: start a stage attempt, learn how it ended, kill it.

An executor never touches the store or the bus: the engine records what it reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_pipeline.messages.topics import Status


@dataclass(frozen=True)
class StageJob:
    """One attempt of one stage of one run, as plain data."""

    run_id: int
    stage: str
    attempt: int
    #: The run's fields so far (the trigger's, then earlier stages' outputs).
    fields: Mapping[str, str]
    options: Mapping[str, str]
    #: A bash command, or None for the built-in ``implementation``.
    command: str | None
    implementation: str
    timeout: float | None
    workdir: Path
    artifacts_dir: Path
    artifacts_url: str
    log_path: Path
    #: The configuration as JSON, handed to built-in stages.
    config_json: str = "{}"

    @property
    def key(self) -> tuple[int, str]:
        """What identifies the job among running ones: (run id, stage)."""
        return (self.run_id, self.stage)


@dataclass(frozen=True)
class StageOutcome:
    """How a stage attempt ended."""

    run_id: int
    stage: str
    attempt: int
    status: Status
    reason: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    #: True when the machinery failed rather than the work: the stage may be retried.
    infrastructure: bool = False
    #: Seconds the attempt ran, from its start to its exit.
    duration: float = 0.0
    summary: str = ""
    tests: tuple[Mapping[str, Any], ...] = ()

    @property
    def key(self) -> tuple[int, str]:
        """(run id, stage) of the job this outcome ends."""
        return (self.run_id, self.stage)


class Executor(ABC):
    """Runs stage attempts.

    Required: :meth:`start`, :meth:`wait`, :meth:`kill`, :meth:`free_slots`, :meth:`running`.
    Optional (default given): :meth:`shutdown`, :meth:`stop_leftover`.
    """

    @abstractmethod
    def start(self, job: StageJob) -> int:
        """Required. Start ``job``; return a number that identifies its work on this executor (0: none).

        The engine records it with the attempt and hands it back to :meth:`stop_leftover`.
        """

    @abstractmethod
    def wait(self, timeout: float) -> list[StageOutcome]:
        """Required. Wait up to ``timeout`` seconds for attempts to end; return those that ended."""

    @abstractmethod
    def kill(self, key: tuple[int, str]) -> bool:
        """Required. Kill the running job ``key`` and its whole process tree; no outcome follows."""

    @abstractmethod
    def free_slots(self) -> int:
        """Required. How many more jobs may run now."""

    @abstractmethod
    def running(self) -> set[tuple[int, str]]:
        """Required. The keys of the jobs running now."""

    def stop_leftover(self, run_id: int, stage: str, attempt: int, handle: int) -> bool:
        """Optional. Stop attempt ``attempt`` of ``stage`` that a dead scheduler started as ``handle``.

        Called by a scheduler that takes the run over and will not resume that attempt; True when
        something was stopped. The default has nothing to stop.
        """
        return False

    def shutdown(self) -> None:
        """Optional. Kill every running job."""
        for key in list(self.running()):
            self.kill(key)
