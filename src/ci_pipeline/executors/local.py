"""The local executor (``[executor] kind = "local"``): each stage attempt is a contained process tree here.

A command stage is ``bash -c COMMAND``; a built-in stage is ``python -m
ci_pipeline.executors.stage_worker``. Either runs contained (:mod:`~ci_pipeline.executors.containment`:
a PID namespace of its own where possible, killed whole on timeout, cancel or the scheduler's death),
its output copied to the stage log up to a cap while it writes. The scheduler waits on pidfds, so an
attempt's end is seen at once. The handle of an attempt is its process group id and the boot of this
machine it lives in: a scheduler that takes a run over on another machine, or after a reboot,
leaves whatever process has that number there alone.
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ci_pipeline.config import Config
from ci_pipeline.errors import StageFailure
from ci_pipeline.executors.base import Executor, StageContext, StageOutcome
from ci_pipeline.executors.codec import decode_outcome, encode_job
from ci_pipeline.executors.containment import Attempt, start_attempt, stop_leftover
from ci_pipeline.executors.outputs import fields_environment, read_outputs
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.topics import Status

log = get_logger(__name__)

LOG_CAP_BYTES = 10 * 1024 * 1024
#: The exit status by which a command stage says the machinery failed (EX_TEMPFAIL): retryable.
INFRASTRUCTURE_EXIT = 75
KILL_GRACE = 2.0
OUTPUTS_FILE = "outputs.env"
RESULT_FILE = "result.json"


@dataclass
class _Running:
    job: StageContext
    attempt: Attempt
    pidfd: int
    started: float
    deadline: float | None


class LocalExecutor(Executor):
    """A pool of child processes on this machine, ``concurrency`` at once (0 = the number of cores)."""

    def __init__(self, concurrency: int = 0, log_cap: int = LOG_CAP_BYTES) -> None:
        self.concurrency = concurrency or os.cpu_count() or 1
        self.log_cap = log_cap
        self._running: dict[tuple[int, str], _Running] = {}

    @classmethod
    def from_config(cls, config: Config) -> LocalExecutor:
        """``[executor] concurrency`` slots."""
        return cls(config.executor.concurrency)

    def free_slots(self) -> int:
        """How many more jobs may run now."""
        return self.concurrency - len(self._running)

    def running(self) -> set[tuple[int, str]]:
        """The keys of the jobs running now."""
        return set(self._running)

    def start(self, job: StageContext) -> str:
        """Start ``job`` contained; return its handle: the process group of its tree, on this boot."""
        job.workdir.mkdir(parents=True, exist_ok=True)
        job.artifacts_dir.mkdir(parents=True, exist_ok=True)
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv, env, init_signal = stage_command(job)
        attempt = start_attempt(argv, init_signal, cwd=job.workdir, env=env, log_path=job.log_path,
                                log_cap=self.log_cap)
        deadline = time.monotonic() + job.timeout if job.timeout else None
        pidfd = os.pidfd_open(attempt.process.pid)
        self._running[job.key] = _Running(job, attempt, pidfd, time.monotonic(), deadline)
        return f"{attempt.handle}@{boot_id()}"

    def wait(self, timeout: float) -> list[StageOutcome]:
        """Wait up to ``timeout`` seconds for an attempt to end; return every attempt that ended."""
        if self._running and timeout > 0:
            deadlines = [entry.deadline for entry in self._running.values() if entry.deadline]
            if deadlines:
                timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
            select.select([entry.pidfd for entry in self._running.values()], [], [], timeout)
        elif timeout > 0:
            time.sleep(timeout)
        outcomes = []
        now = time.monotonic()
        for key, entry in list(self._running.items()):
            if entry.attempt.process.poll() is not None:
                outcomes.append(self._finish(key, entry))
            elif entry.deadline is not None and now >= entry.deadline:
                outcomes.append(self._time_out(key, entry))
        return outcomes

    def kill(self, key: tuple[int, str]) -> bool:
        """Kill the job ``key`` and its whole process tree; True when it was running."""
        entry = self._running.pop(key, None)
        if entry is None:
            return False
        entry.attempt.stop(stop_grace(entry.job))
        os.close(entry.pidfd)
        entry.attempt.release()
        return True

    def stop_leftover(self, run_id: int, stage: str, attempt: int, handle: str) -> bool:
        """Kill the tree of attempt ``attempt`` of ``stage`` that a dead scheduler left here, if any."""
        pgid = handle_group(handle)
        return pgid is not None and stop_leftover(pgid, attempt_marks(run_id, stage, attempt))

    def _release(self, key: tuple[int, str], entry: _Running) -> float:
        del self._running[key]
        os.close(entry.pidfd)
        entry.attempt.release()
        return time.monotonic() - entry.started

    def _time_out(self, key: tuple[int, str], entry: _Running) -> StageOutcome:
        entry.attempt.stop(stop_grace(entry.job))
        duration = self._release(key, entry)
        job = entry.job
        reason = f"The {job.stage} stage did not finish within {job.timeout:g} s and was killed."
        return StageOutcome(job.run_id, job.stage, job.attempt, Status.FAILURE, reason, duration=duration)

    def _finish(self, key: tuple[int, str], entry: _Running) -> StageOutcome:
        duration = self._release(key, entry)
        return stage_outcome(entry.job, entry.attempt.exit_status, duration)

    def shutdown(self) -> None:
        """Kill every running job."""
        for key in list(self._running):
            self.kill(key)


@functools.cache
def boot_id() -> str:
    """This machine's current boot (the kernel's random boot id), "" where it has none."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def handle_group(handle: str) -> int | None:
    """The process group a handle of :meth:`LocalExecutor.start` names on this boot, if any.

    A bare number is a process group recorded before handles named their boot.
    """
    number, _, boot = handle.partition("@")
    if not number.isdigit() or (boot and boot != boot_id()):
        return None
    return int(number)


def stop_grace(job: StageContext) -> float:
    """Seconds a stopped attempt gets to unwind: a stage worker kills its tools; a command gets none."""
    return KILL_GRACE if job.command is None else 0.0


def attempt_marks(run_id: int, stage: str, attempt: int) -> dict[str, str]:
    """The variables in every attempt's environment that tell its processes from anyone else's."""
    return {"CI_PIPELINE_RUN_ID": str(run_id), "CI_PIPELINE_STAGE": stage,
            "CI_PIPELINE_ATTEMPT": str(attempt)}


def stage_command(job: StageContext) -> tuple[list[str], dict[str, str], signal.Signals]:
    """The argv and environment that run ``job``, and the signal it gets when its starter dies (without
    a PID namespace, which is killed whole).

    Shared with the Celery task, which contains it the same way.
    """
    env = dict(os.environ)
    env.update(fields_environment(job.fields))
    env.update(attempt_marks(job.run_id, job.stage, job.attempt))
    env.update(
        CI_PIPELINE_OUTPUTS=str(job.workdir / OUTPUTS_FILE),
        CI_PIPELINE_ARTIFACTS_DIR=str(job.artifacts_dir),
        CI_PIPELINE_ARTIFACTS_URL=job.artifacts_url,
        CI_PIPELINE_LOG=str(job.log_path),
    )
    if job.command is not None:
        # The command is the pipeline author's; message values reach it only as variables.
        return ["bash", "-c", job.command], env, signal.SIGKILL
    job_file = job.workdir / "job.json"
    job_file.write_text(json.dumps(encode_job(job)), "utf-8")
    worker = [sys.executable, "-m", "ci_pipeline.executors.stage_worker", str(job_file),
              str(job.workdir / RESULT_FILE)]
    return worker, env, signal.SIGTERM


def stage_outcome(job: StageContext, exit_status: int, duration: float) -> StageOutcome:
    """How ``job`` ended, from its exit status and the outputs or result file it left in its workdir."""
    ended = StageOutcome(job.run_id, job.stage, job.attempt, Status.SUCCESS, duration=duration)
    if job.command is None:
        return _worker_result(job, ended, exit_status)
    if exit_status != 0:
        reason = f"The {job.stage} command exited with status {exit_status}."
        return replace(ended, status=Status.FAILURE, reason=reason,
                       infrastructure=exit_status == INFRASTRUCTURE_EXIT)
    try:
        outputs = read_outputs(job.workdir / OUTPUTS_FILE)
    except StageFailure as exc:
        return replace(ended, status=Status.FAILURE, reason=str(exc))
    return replace(ended, outputs=outputs)


def _worker_result(job: StageContext, ended: StageOutcome, exit_status: int) -> StageOutcome:
    try:
        data = json.loads((job.workdir / RESULT_FILE).read_text("utf-8"))
        return replace(decode_outcome(data, job), duration=ended.duration)
    except (OSError, ValueError):
        reason = f"internal error: the stage worker exited with status {exit_status} and no result."
        return replace(ended, status=Status.FAILURE, reason=reason)
