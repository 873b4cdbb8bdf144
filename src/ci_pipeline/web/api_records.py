"""``/api/v1`` records: trigger decisions, the message log, and health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from ci_pipeline.errors import StoreError, UsageError
from ci_pipeline.store import outbox
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import ping
from ci_pipeline.store.decisions import newest_decisions
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
    with web_state(request).store.session() as session:
        rows = newest_decisions(session, repo=repo, kind=decision, offset=page * limit, limit=limit + 1)
    return {
        "data": [decision_json(row) for row in rows[:limit]],
        "page": page,
        "limit": limit,
        "has_next": len(rows) > limit,
    }


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
    found: list[dict[str, Any]] = []
    with web_state(request).store.session() as session:
        # A run's messages are found through the run; an ignore message has no run, so its body is read.
        rows = outbox.newest_messages(
            session, topic_glob=topic, repo=repo, rev=rev, since=start, until=end, limit=SCAN_LIMIT
        )
        for row in rows:
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
            ping(session)
            depth, oldest = outbox.backlog(session)
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
