"""The Celery task that runs one stage attempt on a ``ci-pipeline worker``.

The work runs as the local executor runs it (:func:`~ci_pipeline.executors.local.stage_command`),
contained the same way (:mod:`~ci_pipeline.executors.containment`), and the task kills its whole tree
on timeout or when the scheduler asks (:class:`~ci_pipeline.executors.celery_app.TaskKeys` ``kill``).
Every delivery of a task id first looks at what earlier deliveries did: an outcome already stored
is returned as is (its acknowledgement was lost, e.g. in a broker restart); a delivery still running
elsewhere (its ``alive`` key is renewed) is waited for; only a delivery whose worker is gone is run
again, counted in ``deliveries`` and named in the log and the outcome.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis

from ci_pipeline.artifacts_http import ArtifactClient
from ci_pipeline.config import Config
from ci_pipeline.errors import CIPipelineError
from ci_pipeline.executors.base import StageContext, StageOutcome
from ci_pipeline.executors.celery_app import TaskKeys, redis_client
from ci_pipeline.executors.celery_jobs import job_from_payload, shares_artifact_root
from ci_pipeline.executors.codec import encode_outcome
from ci_pipeline.executors.containment import start_attempt
from ci_pipeline.executors.local import LOG_CAP_BYTES, stage_command, stage_outcome, stop_grace
from ci_pipeline.logcontext import get_logger, log_context
from ci_pipeline.logtail import tail_bytes
from ci_pipeline.messages.topics import Status

log = get_logger(__name__)

#: Seconds an ``alive`` key lives without renewal: how soon a lost worker's task may run elsewhere.
ALIVE_TTL = 5.0
POLL = 0.1
RENEW_EVERY = 1.0
LOG_RETURN_CAP = 1024 * 1024


def worker_name(task: Any) -> str:
    """The Celery node name of the worker running ``task`` (host name outside a worker)."""
    return str(getattr(task.request, "hostname", None) or socket.gethostname())


def run_stage(task: Any, payload: dict[str, Any], config: Config) -> dict[str, Any]:
    """Body of the stage task: one outcome per task id, however often it is delivered."""
    job = payload["job"]
    with log_context(run_id=int(job["run_id"]), stage=str(job["stage"])):
        return _run_stage(task, payload, config)


def _run_stage(task: Any, payload: dict[str, Any], config: Config) -> dict[str, Any]:
    task_id = str(task.request.id)
    keys = TaskKeys.of(str(payload["namespace"]), task_id)
    client = redis_client(config)
    me = worker_name(task)
    while True:
        earlier = task.AsyncResult(task_id)
        if earlier.ready() and isinstance(earlier.result, dict):
            log.info("task %s already has an outcome; a redelivery returns it", task_id)
            return dict(earlier.result)
        if client.set(keys.alive, me, nx=True, px=int(ALIVE_TTL * 1000)):
            break
        time.sleep(POLL * 5)  # another delivery runs the work; wait for its outcome or its end
    delivery = int(client.incr(keys.deliveries))
    try:
        result = _run_delivery(payload, config, client, keys, me, delivery)
    finally:
        client.delete(keys.alive)
    return result


def _run_delivery(payload: dict[str, Any], config: Config, client: redis.Redis, keys: TaskKeys,
                  me: str, delivery: int) -> dict[str, Any]:
    job = job_from_payload(payload, config)
    note = f"[ci-pipeline] attempt {job.attempt} of {job.stage}, delivery {delivery}, on worker {me}\n"
    if delivery > 1:
        note += "[ci-pipeline] an earlier delivery's worker was lost; the work runs again here\n"
    shutil.rmtree(job.workdir, ignore_errors=True)  # what an earlier, lost delivery left here
    job.workdir.mkdir(parents=True)
    job.artifacts_dir.mkdir(parents=True, exist_ok=True)
    job.log_path.write_text(note, "utf-8")
    transfer = None if shares_artifact_root(payload, config) else ArtifactClient(config)
    try:
        if transfer is not None:
            transfer.fetch_inputs(job.fields)
        outcome = _execute(job, client, keys)
        if transfer is not None and outcome.status == Status.SUCCESS:
            transfer.upload_outputs([str(payload["artifacts_relative"])], outcome.outputs)
    except CIPipelineError as exc:
        outcome = StageOutcome(job.run_id, job.stage, job.attempt, Status.FAILURE, str(exc),
                               infrastructure=True)
    result = encode_outcome(outcome)
    result.update(worker=me, delivery=delivery, log=_log_tail(job.log_path))
    shutil.rmtree(job.workdir, ignore_errors=True)
    return result


def _execute(job: StageContext, client: redis.Redis, keys: TaskKeys) -> StageOutcome:
    """Run ``job`` contained; kill its tree on timeout or on the scheduler's request."""
    argv, env, init_signal = stage_command(job)
    started = time.monotonic()
    deadline = started + job.timeout if job.timeout else None
    attempt = start_attempt(argv, init_signal, cwd=job.workdir, env=env, log_path=job.log_path,
                            log_cap=LOG_CAP_BYTES)
    grace = stop_grace(job)
    renewed = started
    try:
        while attempt.process.poll() is None:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                attempt.stop(grace)
                reason = f"The {job.stage} stage did not finish within {job.timeout:g} s and was killed."
                return StageOutcome(job.run_id, job.stage, job.attempt, Status.FAILURE, reason,
                                    duration=now - started)
            if now - renewed >= RENEW_EVERY:
                client.pexpire(keys.alive, int(ALIVE_TTL * 1000))
                renewed = now
            if client.exists(keys.kill):
                attempt.stop(grace)
                return StageOutcome(job.run_id, job.stage, job.attempt, Status.FAILURE,
                                    "The scheduler killed the stage.", duration=now - started)
            time.sleep(POLL)
    finally:
        # Whatever ended the loop (an exception too), nothing of the attempt outlives it.
        attempt.stop()
        attempt.release()
    outcome = stage_outcome(job, attempt.exit_status, time.monotonic() - started)
    return replace(outcome, duration=time.monotonic() - started)


def _log_tail(path: Path) -> str:
    try:
        return tail_bytes(path, LOG_RETURN_CAP).decode("utf-8", "replace")
    except OSError:
        return ""

