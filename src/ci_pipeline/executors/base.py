"""The executor interface: start a stage attempt, learn how it ended, kill it.

An executor never touches the store or the bus: the engine records what it reports. What it runs
and reports is the stage contract (:mod:`ci_pipeline.stage_contract`). The processes an attempt
starts are the executor's alone: the engine keeps the handle :meth:`Executor.start` returns as an
opaque string and hands it back to :meth:`Executor.stop_leftover`: only the executor interprets it,
and one ignores a handle it did not make.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from ci_pipeline.config import Config
from ci_pipeline.stage_contract import StageContext, StageOutcome

__all__ = ["Executor", "StageContext", "StageOutcome"]


class Executor(ABC):
    """Runs stage attempts.

    Required: :meth:`start`, :meth:`wait`, :meth:`kill`, :meth:`free_slots`, :meth:`running`.
    Optional (default given): :meth:`from_config`, :meth:`shutdown`, :meth:`stop_leftover`.
    """

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """Optional. The member as ``[executor]`` of ``config`` sets it up; the default takes no settings."""
        return cls()

    @abstractmethod
    def start(self, job: StageContext) -> str:
        """Required. Start ``job``; return a handle of its work for :meth:`stop_leftover` ("" for none).

        The engine stores the handle with the attempt and never reads it.
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

    def stop_leftover(self, run_id: int, stage: str, attempt: int, handle: str) -> bool:
        """Optional. Stop attempt ``attempt`` of ``stage`` that a dead scheduler started as ``handle``.

        Called by a scheduler that takes the run over and will not resume that attempt; True when
        something was stopped. The default has nothing to stop.
        """
        return False

    def shutdown(self) -> None:
        """Optional. Kill every running job."""
        for key in list(self.running()):
            self.kill(key)
