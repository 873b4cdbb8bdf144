"""Runs, stages, decisions and messages as JSON-ready data: one shape for the API, the dashboard
and the command line's ``--json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.store.models import DeadLetter, Decision, OutboxMessage, Run, StageRun


def stamp(value: datetime | None) -> str | None:
    """A stored time in ISO 8601 with its UTC zone."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """The seconds between two stored times; None while one is missing."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def run_json(run: Run, config: Config) -> dict[str, Any]:
    """A run's summary."""
    return {
        "id": run.id,
        "repo": run.repo,
        "rev": run.rev,
        "namespace": run.namespace,
        "branch": run.branch,
        "ci_name": run.ci_name,
        "build_id": run.build_id,
        "state": run.state,
        "status": run.status,
        "reason": run.reason,
        "nvr": run.fields.get("nvr"),
        "build_url": run.fields.get("build_url")
        or f"{config.web_base_url}/job/{run.ci_name}/{run.build_id}/",
        "created_at": stamp(run.created_at),
        "started_at": stamp(run.started_at),
        "finished_at": stamp(run.finished_at),
        "duration": seconds(run.started_at, run.finished_at),
        "cancel_requested": run.cancel_reason is not None,
        "cancel_source": run.cancel_source,
    }


def stage_json(row: StageRun, run_id: int) -> dict[str, Any]:
    """A stage of a run, with its log file and the API paths of its log."""
    log = f"/api/v1/runs/{run_id}/stages/{row.stage}/log"
    return {
        "log": row.log_path or None,
        "stage": row.stage,
        "position": row.position,
        "state": row.state,
        "status": row.status,
        "attempt": row.attempt,
        "reason": row.reason,
        "outputs": row.outputs,
        "queued_at": stamp(row.queued_at),
        "started_at": stamp(row.started_at),
        "finished_at": stamp(row.finished_at),
        "duration": seconds(row.started_at, row.finished_at),
        "log_url": log if row.log_path else None,
        "log_stream_url": f"{log}/stream" if row.log_path else None,
    }


def decision_json(row: Decision) -> dict[str, Any]:
    """A trigger decision with its reason."""
    return {
        "id": row.id,
        "received_at": stamp(row.received_at),
        "msg_id": row.msg_id,
        "repo": row.repo,
        "rev": row.rev,
        "namespace": row.namespace,
        "branch": row.branch,
        "decision": row.decision,
        "ignore_cause": row.ignore_cause,
        "reason": row.reason,
        "build_id": row.build_id,
        "run_id": row.run_id,
        "forced": row.forced,
    }


def dead_letter_json(row: DeadLetter) -> dict[str, Any]:
    """A rejected inbound message with the reason: the part kept, and the size of the whole."""
    size = len(row.payload) if row.payload_size is None else row.payload_size
    return {
        "id": row.id,
        "received_at": stamp(row.received_at),
        "subscription": row.subscription,
        "topic": row.topic,
        "reason": row.reason,
        "payload": row.payload.decode("utf-8", "replace"),
        "payload_size": size,
        "payload_truncated": size > len(row.payload),
    }


def message_json(row: OutboxMessage) -> dict[str, Any]:
    """A message the service sent (or will send), with its envelope decoded."""
    try:
        envelope = json.loads(row.payload)
    except ValueError:
        envelope = None
    return {
        "id": row.id,
        "topic": row.topic,
        "run_id": row.run_id,
        "created_at": stamp(row.created_at),
        "sent_at": stamp(row.sent_at),
        "envelope": envelope,
    }


def message_body(message: dict[str, Any]) -> dict[str, Any]:
    """The ``msg`` body of a decoded message, or an empty one."""
    envelope = message.get("envelope")
    body = envelope.get("msg") if isinstance(envelope, dict) else None
    return body if isinstance(body, dict) else {}


def artifact_files(config: Config, run_id: int, limit: int = 2000) -> list[dict[str, Any]]:
    """The files a run's stages left under the artifact root, with their public URLs."""
    root = config.artifact_root
    base = root / "runs" / str(run_id)
    if not base.is_dir():
        return []
    files = []
    for path in sorted(base.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        files.append(
            {
                "path": relative,
                "size": path.stat().st_size,
                "url": f"{config.artifacts_base_url}/{relative}",
                "href": f"/artifacts/{relative}",
            }
        )
        if len(files) >= limit:
            break
    return files

