"""What a Celery task carries (a job in the codec of :mod:`.codec`), and where a worker puts its files.

A worker maps a job onto its own machine: its work directory under its own ``state_dir``, the stage's
artifacts under its own ``[artifacts] root``, and for built-in stages its own configuration. Whether
it shares the scheduler's artifact root is told by an id file in the root, not by equal paths.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.executors.base import StageContext
from ci_pipeline.executors.celery_app import namespace
from ci_pipeline.executors.codec import decode_job, encode_job

ROOT_ID_FILE = ".ci-pipeline-root-id"
#: What may name a directory of a worker's (a namespace, a stage): one path component.
_NAME = re.compile(r"^(?!\.\.?$)[^/\x00]{1,200}$")


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


def job_payload(job: StageContext, config: Config) -> dict[str, Any]:
    """What the task of ``job`` carries: the job's portable fields and where its artifacts go."""
    root = config.artifact_root
    return {
        "namespace": namespace(config.executor.broker),
        "root_id": root_id(root, create=True),
        "artifacts_relative": job.artifacts_dir.resolve().relative_to(root.resolve()).as_posix(),
        "job": encode_job(job, portable=True),
    }


def shares_artifact_root(payload: dict[str, Any], config: Config) -> bool:
    """Whether this machine's artifact root is the scheduler's own (then nothing goes over HTTP)."""
    mine = root_id(config.artifact_root)
    return bool(mine) and mine == payload.get("root_id")


def job_from_payload(payload: dict[str, Any], config: Config) -> StageContext:
    """The job of ``payload``, with paths and configuration of this worker.

    :class:`ValueError` when the payload is malformed or would reach outside this worker's directories.
    """
    data = payload.get("job")
    if not isinstance(data, dict):
        raise ValueError("The stage document is malformed: the task carries no job.")
    space, stage = str(payload.get("namespace")), str(data.get("stage"))
    relative = Path(str(payload.get("artifacts_relative")))
    if not (_NAME.match(space) and _NAME.match(stage)):
        raise ValueError("The stage document is malformed: its namespace or stage is not a plain name.")
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError("The stage document is malformed: its artifacts directory leaves the artifact root.")
    workdir = (config.state_path / "worker" / space / str(data.get("run_id"))
               / f"{stage}.{data.get('attempt')}")
    paths = {"workdir": workdir, "artifacts_dir": config.artifact_root / relative,
             "log_path": workdir / "stage.log"}
    return decode_job(data, config=config, paths=paths)
