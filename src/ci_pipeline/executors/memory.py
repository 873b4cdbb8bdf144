"""The in-memory executor: stage attempts end the moment they start, in this process, with no shell.

Each stage's outcome comes from a script (a stage function per stage name, the shape of a built-in
stage) or else from the stage itself: a built-in stage's function runs here, and a command stage
succeeds with no outputs, as ``true`` would. Exceptions become outcomes as in a stage worker. A
stage named in ``hold`` stays running until :meth:`MemoryExecutor.release` (or a kill): what a test
needs to cancel or take over a running stage. Nothing sleeps: :meth:`MemoryExecutor.wait` never
blocks. For tests and benchmarks of the engine.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from ci_pipeline.config import Config
from ci_pipeline.executors.base import Executor, StageContext, StageOutcome
from ci_pipeline.executors.stage_worker import load_stage_function, run_function
from ci_pipeline.stage_contract import StageFunction, StageResult

DEFAULT_CONCURRENCY = 2


def succeed(job: StageContext) -> StageResult:
    """What an unscripted command stage does here: nothing, successfully."""
    return StageResult()


class MemoryExecutor(Executor):
    """Runs stage attempts in this process, ``concurrency`` at once, from ``script`` or built-ins."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY,
                 script: Mapping[str, StageFunction] | None = None, hold: Collection[str] = ()) -> None:
        self.concurrency = concurrency or DEFAULT_CONCURRENCY
        self.script = dict(script or {})
        self.hold = set(hold)
        #: Every job started, in order: what a test asserts on.
        self.started: list[StageContext] = []
        self._held: dict[tuple[int, str], StageContext] = {}
        self._ended: dict[tuple[int, str], StageOutcome] = {}

    @classmethod
    def from_config(cls, config: Config) -> MemoryExecutor:
        """``[executor] concurrency`` slots, no script."""
        return cls(config.executor.concurrency)

    def free_slots(self) -> int:
        """How many more jobs may run now."""
        return self.concurrency - len(self.running())

    def running(self) -> set[tuple[int, str]]:
        """The jobs started whose outcome was not collected yet, held ones included."""
        return set(self._held) | set(self._ended)

    def start(self, job: StageContext) -> str:
        """Run ``job`` now (unless its stage is held); its outcome is there for the next :meth:`wait`."""
        self.started.append(job)
        if job.stage in self.hold:
            self._held[job.key] = job
        else:
            self._ended[job.key] = self._run(job)
        return ""

    def release(self, key: tuple[int, str]) -> bool:
        """Let the held job ``key`` run and end; True when it was held."""
        job = self._held.pop(key, None)
        if job is None:
            return False
        self._ended[key] = self._run(job)
        return True

    def wait(self, timeout: float) -> list[StageOutcome]:
        """The outcomes of the jobs that ended, at once: held jobs do not end by waiting."""
        outcomes, self._ended = list(self._ended.values()), {}
        return outcomes

    def kill(self, key: tuple[int, str]) -> bool:
        """Forget the job ``key``: no outcome follows."""
        return self._held.pop(key, None) is not None or self._ended.pop(key, None) is not None

    def _run(self, job: StageContext) -> StageOutcome:
        for path in (job.workdir, job.artifacts_dir, job.log_path.parent):
            path.mkdir(parents=True, exist_ok=True)
        scripted = self.script.get(job.stage)

        def load() -> StageFunction:
            if scripted is not None:
                return scripted
            return succeed if job.command is not None else load_stage_function(job.implementation, job.stage)

        return replace(run_function(job, load), duration=0.0)
