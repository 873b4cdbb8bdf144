"""Stage jobs and outcomes as the JSON a Celery task carries, and where a worker puts a job's files.

A worker maps a job onto its own machine: its work directory under its own ``state_dir``, the stage's
artifacts under its own ``[artifacts] root``, and for built-in stages its own configuration. Whether
it shares the scheduler's artifact root is told by an id file in the root, not by equal paths.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.executors.base import StageJob, StageOutcome
from ci_pipeline.executors.celery_app import namespace
from ci_pipeline.messages.topics import Status

ROOT_ID_FILE = ".ci-pipeline-root-id"
_JOB_FIELDS = ("run_id", "stage", "attempt", "fields", "options", "command", "implementation", "timeout",
               "artifacts_url")


def root_id(root: Path, *, create: bool = False) -> str:
    """The id of an artifact root (made on first use when ``create``); "" when it has none."""
    path = root / ROOT_ID_FILE
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        if not create:
            return ""
    root.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{uuid.uuid4().hex}")
    temporary.write_text(uuid.uuid4().hex, "utf-8")
    try:
        path.hardlink_to(temporary)  # atomic: the first id written wins
    except FileExistsError:
        pass  # another scheduler made it first; theirs counts
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text("utf-8").strip()


def job_payload(job: StageJob, config: Config) -> dict[str, Any]:
    """What the task of ``job`` carries: the job's portable fields and where its artifacts go."""
    root = config.artifact_root
    return {
        "namespace": namespace(config.executor.broker),
        "root_id": root_id(root, create=True),
        "artifacts_relative": job.artifacts_dir.resolve().relative_to(root.resolve()).as_posix(),
        "job": {name: value for name, value in asdict(job).items() if name in _JOB_FIELDS},
    }


def shares_artifact_root(payload: dict[str, Any], config: Config) -> bool:
    """Whether this machine's artifact root is the scheduler's own (then nothing goes over HTTP)."""
    mine = root_id(config.artifact_root)
    return bool(mine) and mine == payload.get("root_id")


def job_from_payload(payload: dict[str, Any], config: Config) -> StageJob:
    """The job of ``payload``, with paths on this worker."""
    data = dict(payload["job"])
    workdir = (config.state_path / "worker" / str(payload["namespace"]) / str(data["run_id"])
               / f"{data['stage']}.{data['attempt']}")
    return StageJob(
        **data,
        workdir=workdir,
        artifacts_dir=config.artifact_root / str(payload["artifacts_relative"]),
        log_path=workdir / "stage.log",
        config_json=config.model_dump_json() if data["command"] is None else "{}",
    )


def outcome_to_dict(outcome: StageOutcome) -> dict[str, Any]:
    """``outcome`` as JSON-ready data."""
    data = asdict(outcome)
    data["status"] = outcome.status.value
    data["tests"] = [dict(test) for test in outcome.tests]
    return data


def outcome_from_dict(data: dict[str, Any], job: StageJob) -> StageOutcome:
    """The outcome a task returned, as the outcome of ``job`` (the attempt the scheduler started)."""
    return StageOutcome(
        run_id=job.run_id,
        stage=job.stage,
        attempt=job.attempt,
        status=Status(data["status"]),
        reason=str(data.get("reason", "")),
        outputs={str(k): str(v) for k, v in dict(data.get("outputs", {})).items()},
        infrastructure=bool(data.get("infrastructure", False)),
        duration=float(data.get("duration", 0.0)),
        summary=str(data.get("summary", "")),
        tests=tuple(data.get("tests", ())),
    )
