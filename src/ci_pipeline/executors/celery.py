"""The Celery executor (``[executor] kind = "celery"``): each stage attempt is a task on a worker queue.

A job goes to the queue of its stage kind (``ci-pipeline.build``, ``ci-pipeline.image``, ...) under a
task id made of its run, stage and attempt; its outcome comes back through the result backend (Redis)
and its log with it, written to the job's log path here. There is no process on this machine, so
:meth:`CeleryExecutor.start` returns no handle; a scheduler that aborts a run a dead one left stops that run's
task through :meth:`CeleryExecutor.stop_leftover`.

A scheduler that takes a run over from a dead one starts the stage's next attempt; when the previous
attempt's task has not ended (or ended with an outcome nobody collected), that task is adopted as the
new attempt instead of running the stage's work a second time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from kombu.exceptions import OperationalError

from ci_pipeline.config import Config
from ci_pipeline.executors.base import Executor, StageContext, StageOutcome
from ci_pipeline.executors.celery_app import (
    TASK_NAME,
    TaskKeys,
    latest_key,
    make_app,
    namespace,
    queue_name,
    redis_client,
    task_id,
)
from ci_pipeline.executors.celery_jobs import job_payload
from ci_pipeline.executors.codec import decode_outcome
from ci_pipeline.logcontext import get_logger, log_context
from ci_pipeline.messages.topics import Status

log = get_logger(__name__)

#: Stages in flight when ``[executor] concurrency`` is 0.
DEFAULT_IN_FLIGHT = 16
POLL = 0.05
RESEND_EVERY = 1.0
#: Seconds past a job's timeout after which a silent task counts as lost.
LOST_AFTER = 120.0
KEY_TTL = 86400
SEND_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.5}


@dataclass
class _Sent:
    job: StageContext
    task_id: str
    payload: dict[str, Any]
    sent: bool
    started: float


class CeleryExecutor(Executor):
    """Sends stage attempts to ``ci-pipeline worker`` processes through Celery."""

    def __init__(self, config: Config, app: Celery | None = None) -> None:
        self.config = config
        self.app = app or make_app(config)
        # A scheduler must not block on a broker that is down: give up connecting quickly, send later.
        self.app.conf.broker_transport_options = {**self.app.conf.broker_transport_options, **SEND_RETRY}
        self.namespace = namespace(config.executor.broker)
        self.concurrency = config.executor.concurrency or DEFAULT_IN_FLIGHT
        self.redis = redis_client(config)
        self._running: dict[tuple[int, str], _Sent] = {}
        #: While the broker is unreachable, sends wait until then instead of blocking every start.
        self._broker_down_until = 0.0

    @classmethod
    def from_config(cls, config: Config) -> CeleryExecutor:
        """Sends to ``[executor] broker``, reads outcomes from ``[executor] result_backend``."""
        return cls(config)

    def free_slots(self) -> int:
        """How many more attempts may be in flight now."""
        return self.concurrency - len(self._running)

    def running(self) -> set[tuple[int, str]]:
        """The keys of the attempts in flight."""
        return set(self._running)

    def start(self, job: StageContext) -> str:
        """Send ``job`` to its stage's queue (or adopt its previous attempt's task); return no handle."""
        adopted = self._adoptable(job)
        if adopted is not None:
            log.warning("run %d %s: attempt %d adopts the unfinished task %s of a previous scheduler",
                        job.run_id, job.stage, job.attempt, adopted)
            _note_adoption(job, adopted)
            self._running[job.key] = _Sent(job, adopted, {}, True, time.monotonic())
            return ""
        identifier = task_id(self.namespace, job.run_id, job.stage, job.attempt)
        entry = _Sent(job, identifier, job_payload(job, self.config), False, time.monotonic())
        self._running[job.key] = entry
        self._send(entry)
        return ""

    def _adoptable(self, job: StageContext) -> str | None:
        """The task of an earlier attempt of ``job`` that is still to be collected, if any."""
        raw = self.redis.get(latest_key(self.namespace, job.run_id, job.stage))
        if raw is None:
            return None
        earlier = raw.decode() if isinstance(raw, bytes) else str(raw)
        if earlier == task_id(self.namespace, job.run_id, job.stage, job.attempt):
            return earlier  # this very attempt was sent by a scheduler that died right after
        if self.redis.exists(TaskKeys.of(self.namespace, earlier).collected):
            return None
        result = AsyncResult(earlier, app=self.app)
        if result.state == "REVOKED":
            return None
        if result.ready():
            data = result.result
            if not isinstance(data, dict) or data.get("infrastructure"):
                return None  # a retry is due: the engine starts a new attempt on purpose
        return earlier

    def _send(self, entry: _Sent) -> None:
        job = entry.job
        if time.monotonic() < self._broker_down_until:
            return
        try:
            self.app.send_task(TASK_NAME, args=[entry.payload], task_id=entry.task_id,
                               queue=queue_name(job.stage))
        except (OperationalError, OSError) as exc:
            log.warning("run %d %s: the broker did not take the task, retrying: %s",
                        job.run_id, job.stage, exc)
            self._broker_down_until = time.monotonic() + RESEND_EVERY
            return
        entry.sent = True
        log.debug("run %d %s attempt %d sent as task %s", job.run_id, job.stage, job.attempt, entry.task_id)
        self.redis.set(latest_key(self.namespace, job.run_id, job.stage), entry.task_id, ex=KEY_TTL)

    def wait(self, timeout: float) -> list[StageOutcome]:
        """Wait up to ``timeout`` s for attempts to end; return those that ended."""
        deadline = time.monotonic() + timeout
        while True:
            outcomes = self._poll()
            if outcomes or time.monotonic() >= deadline or not self._running:
                if not self._running and not outcomes and timeout > 0:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                return outcomes
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))

    def _poll(self) -> list[StageOutcome]:
        outcomes = []
        now = time.monotonic()
        for key, entry in list(self._running.items()):
            with log_context(run_id=entry.job.run_id, stage=entry.job.stage):
                if not entry.sent:
                    self._send(entry)
                    continue
                outcome = self._outcome(entry, now)
            if outcome is not None:
                del self._running[key]
                outcomes.append(outcome)
        return outcomes

    def _outcome(self, entry: _Sent, now: float) -> StageOutcome | None:
        job = entry.job
        try:
            result = AsyncResult(entry.task_id, app=self.app)
            state = result.state
            data = result.result if state in ("SUCCESS", "FAILURE", "REVOKED") else None
        except OSError as exc:  # redis.ConnectionError is an OSError subclass too
            log.warning("the result backend did not answer: %s", exc)
            return None
        if state == "SUCCESS" and isinstance(data, dict):
            self.redis.set(TaskKeys.of(self.namespace, entry.task_id).collected, "1", ex=KEY_TTL)
            self._write_log(job, data)
            try:
                return decode_outcome(data, job)
            except ValueError as exc:
                return _lost(job, f"The {job.stage} task's outcome is unreadable: {exc}")
        if state in ("FAILURE", "REVOKED", "SUCCESS"):
            reason = f"The {job.stage} task ended as {state} on its worker: {data!r}."
            return _lost(job, reason)
        if job.timeout and now - entry.started > job.timeout + LOST_AFTER:
            reason = f"No worker reported on the {job.stage} stage within {job.timeout + LOST_AFTER:g} s."
            return _lost(job, reason)
        return None

    def _write_log(self, job: StageContext, data: dict[str, Any]) -> None:
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with job.log_path.open("a", encoding="utf-8") as handle:
            handle.write(str(data.get("log", "")))
        log.info("run %d %s attempt %d ran on %s (delivery %s)", job.run_id, job.stage, job.attempt,
                 data.get("worker"), data.get("delivery"))

    def kill(self, key: tuple[int, str]) -> bool:
        """Stop the attempt ``key``: revoke its task and have a running delivery kill its process tree."""
        entry = self._running.pop(key, None)
        if entry is None:
            return False
        self._kill_task(entry.task_id)
        return True

    def stop_leftover(self, run_id: int, stage: str, attempt: int, handle: str) -> bool:
        """Stop the task that a dead scheduler's attempt left running (the run will not adopt it)."""
        raw = self.redis.get(latest_key(self.namespace, run_id, stage))
        if raw is None:
            return False
        earlier = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._kill_task(earlier)
        return True

    def _kill_task(self, identifier: str) -> None:
        self.redis.set(TaskKeys.of(self.namespace, identifier).kill, "1", ex=KEY_TTL)
        try:
            self.app.control.revoke(identifier)
        except (OperationalError, OSError) as exc:
            log.warning("could not revoke %s (its running delivery still stops): %s", identifier, exc)


def _note_adoption(job: StageContext, adopted: str) -> None:
    """Say in the attempt's log that its work is an earlier attempt's task, whose log follows."""
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with job.log_path.open("a", encoding="utf-8") as handle:
        handle.write(f"[ci-pipeline] attempt {job.attempt} of {job.stage} adopts the task {adopted} "
                     "that a previous scheduler sent; its outcome and log are this attempt's\n")


def _lost(job: StageContext, reason: str) -> StageOutcome:
    return StageOutcome(job.run_id, job.stage, job.attempt, Status.FAILURE, reason, infrastructure=True)
