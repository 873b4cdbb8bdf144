"""``/api/v1`` records: trigger decisions, the message log, and health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from ci_pipeline.engine.relay import outbox_backlog
from ci_pipeline.errors import StoreError, UsageError
from ci_pipeline.store.models import Decision, OutboxMessage, Run, utcnow
from ci_pipeline.store.records import decision_json, message_body, message_json, stamp
from ci_pipeline.web.resultsdb_query import parse_time
from ci_pipeline.web.state import web_state

router = APIRouter(prefix="/api/v1", tags=["records"])
Page = Annotated[int, Query(ge=0, le=10**6)]
Limit = Annotated[int, Query(ge=1, le=500)]
Word = Annotated[str | None, Query(max_length=255)]
SCAN_LIMIT = 5000


@router.get("/decisions", summary="what the trigger decided about each push, and why")
def list_decisions(
    request: Request, repo: Word = None, decision: Word = None, page: Page = 0, limit: Limit = 50
) -> dict[str, Any]:
    """Decisions newest first, filtered by repo (``*`` wildcards) and decision (queued, ignore)."""
    query = select(Decision).order_by(Decision.id.desc())
    if repo:
        query = (
            query.where(Decision.repo.like(repo.replace("*", "%")))
            if "*" in repo
            else query.where(Decision.repo == repo)
        )
    if decision:
        query = query.where(Decision.decision == decision)
    with web_state(request).store.session() as session:
        rows = list(session.execute(query.offset(page * limit).limit(limit + 1)).scalars())
    return {
        "data": [decision_json(row) for row in rows[:limit]],
        "page": page,
        "limit": limit,
        "has_next": len(rows) > limit,
    }


def glob_to_like(pattern: str) -> str:
    """A shell glob (``*``, ``?``) as an SQL LIKE pattern."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _time(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except UsageError as exc:
        raise HTTPException(status_code=400, detail=f"{name}: {exc}") from exc


@router.get("/messages", summary="every message the service sent, newest first")
def list_messages(
    request: Request,
    topic: Word = None,
    repo: Word = None,
    rev: Word = None,
    since: Word = None,
    until: Word = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Messages filtered by topic glob, repo, rev and a time window (ISO 8601)."""
    start, end = _time("since", since), _time("until", until)
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if topic:
        query = query.where(OutboxMessage.topic.like(glob_to_like(topic), escape="\\"))
    if start is not None:
        query = query.where(OutboxMessage.created_at >= start)
    if end is not None:
        query = query.where(OutboxMessage.created_at <= end)
    if repo or rev:
        # A run's messages are found through the run; an ignore message has no run, so its body is read.
        runs = select(Run.id)
        runs = runs.where(Run.repo == repo) if repo else runs
        runs = runs.where(Run.rev == rev) if rev else runs
        query = query.where(OutboxMessage.run_id.in_(runs) | OutboxMessage.run_id.is_(None))
    found: list[dict[str, Any]] = []
    with web_state(request).store.session() as session:
        for row in session.execute(query.limit(SCAN_LIMIT)).scalars():
            message = message_json(row)
            body = message_body(message)
            if (repo and body.get("repo") != repo) or (rev and body.get("rev") != rev):
                continue
            found.append(message)
            if len(found) >= limit:
                break
    return {"data": found}


@router.get("/health", summary="whether the store answers, and how far the outbox is behind")
def health(request: Request) -> JSONResponse:
    """200 with the outbox depth when the store answers, 503 with the reason when it does not."""
    try:
        with web_state(request).store.session() as session:
            session.execute(text("SELECT 1"))
            depth, oldest = outbox_backlog(session)
    except (StoreError, Exception) as exc:
        return JSONResponse({"status": "unavailable", "store": False, "detail": str(exc)}, status_code=503)
    age = None
    if oldest is not None:
        oldest_aware = oldest if oldest.tzinfo else oldest.replace(tzinfo=utcnow().tzinfo)
        age = round((utcnow() - oldest_aware).total_seconds(), 3)
    return JSONResponse(
        {
            "status": "ok",
            "store": True,
            "outbox_depth": int(depth),
            "oldest_unsent_at": stamp(oldest),
            "oldest_unsent_age": age,
        }
    )
