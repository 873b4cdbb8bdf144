"""``/api/v1`` runs: list, show, tests, artifacts, logs (tail and live stream), cancel, rerun, trigger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ci_pipeline.engine.control import cancel_run, rerun_from
from ci_pipeline.errors import MessageError, NotFound, UsageError
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive, parse_git_receive
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.listing import newest_runs, run_test_results, stages_of_runs
from ci_pipeline.store.outbox import run_messages as messages_of_run
from ci_pipeline.store.records import artifact_files, message_json, run_json, stage_json
from ci_pipeline.store.rows import Run, StageRun
from ci_pipeline.store.states import CancelSource
from ci_pipeline.web.logs import LogFollower, read_tail, read_window
from ci_pipeline.web.state import MAX_ROW_ID, RowId, WebState, require_token, web_state

router = APIRouter(prefix="/api/v1", tags=["runs"])
STREAM_POLL = 0.5
Page = Annotated[int, Query(ge=0, le=10**6, description="page number, from 0")]
Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Before = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="only runs older than this run id "
                                     "(the answer's next_before): pages read by index however deep")]
Word = Annotated[str | None, Query(max_length=255)]


@router.get("/runs", summary="runs, newest first")
def list_runs(
    request: Request,
    repo: Word = None,
    branch: Word = None,
    state: Word = None,
    status: Word = None,
    page: Page = 0,
    limit: Limit = 50,
    before: Before = None,
) -> dict[str, Any]:
    """Runs filtered by repo, branch, state (queued, running, complete) and status, newest first.

    Page by ``before`` (the previous answer's ``next_before``): each page is read by the index on
    the run id, however deep. ``page`` (an offset of ``page * limit``) is still understood."""
    web = web_state(request)
    with web.store.session() as session:
        rows = newest_runs(
            session, repo=repo, branch=branch, state=state, status=status,
            offset=page * limit, limit=limit + 1, before=before,
        )
        stages = stages_by_run(session, [row.id for row in rows[:limit]])
    data = [{**run_json(row, web.config), "stages": stages.get(row.id, [])} for row in rows[:limit]]
    has_next = len(rows) > limit
    return {"data": data, "page": page, "limit": limit, "has_next": has_next,
            "next_before": rows[limit - 1].id if has_next else None}


def stages_by_run(session: Transaction, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The stages of several runs in one query, keyed by run id."""
    found: dict[int, list[dict[str, Any]]] = {}
    for row in stages_of_runs(session, run_ids):
        found.setdefault(row.run_id, []).append(stage_json(row, row.run_id))
    return found


def _run_or_404(session: Transaction, run_id: int) -> Run:
    try:
        return q.get_run(session, run_id)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/runs/{run_id}", summary="a run with its stages")
def get_run(run_id: RowId, request: Request) -> dict[str, Any]:
    """One run with its fields and stages."""
    web = web_state(request)
    with web.store.session() as session:
        run = _run_or_404(session, run_id)
        stages = [stage_json(row, run_id) for row in q.stages_of(session, run_id)]
    return {**run_json(run, web.config), "fields": run.fields, "options": run.options, "stages": stages}


@router.get("/runs/{run_id}/messages", summary="the messages a run sent")
def run_messages(run_id: RowId, request: Request) -> dict[str, Any]:
    """Every message of one run, oldest first."""
    with web_state(request).store.session() as session:
        _run_or_404(session, run_id)
        return {"data": [message_json(row) for row in messages_of_run(session, run_id)]}


@router.get("/runs/{run_id}/tests", summary="the test results of a run")
def run_tests(run_id: RowId, request: Request) -> dict[str, Any]:
    """The tests the run's test stages ran, latest attempt last."""
    with web_state(request).store.session() as session:
        _run_or_404(session, run_id)
        rows = run_test_results(session, run_id)
        data = [
            {
                "id": r.id,
                "testcase": r.testcase,
                "outcome": r.outcome,
                "stage": r.data.get("stage", [""])[0],
                "test": r.data.get("test", [""])[0],
                "duration": r.data.get("duration", [""])[0],
                "attempt": r.attempt,
                "log": r.note,
            }
            for r in rows
        ]
    return {"data": data}


@router.get("/runs/{run_id}/artifacts", summary="the files a run produced")
def run_artifacts(run_id: RowId, request: Request) -> dict[str, Any]:
    """The run's artifacts with their public URLs."""
    web = web_state(request)
    with web.store.session() as session:
        _run_or_404(session, run_id)
    return {"data": artifact_files(web.config, run_id)}


def stage_row(web: WebState, run_id: int, stage: str) -> StageRun:
    """The stage row of a run, or a 404 naming the stages there are."""
    with web.store.session() as session:
        _run_or_404(session, run_id)
        rows = q.stages_of(session, run_id)
    row = next((row for row in rows if row.stage == stage), None)
    if row is None:
        names = ", ".join(r.stage for r in rows) or "none yet"
        raise HTTPException(
            status_code=404, detail=f"Run {run_id} has no stage '{stage}'; its stages: {names}."
        )
    return row


def _log_file(row: StageRun, run_id: int) -> Path:
    path = Path(row.log_path) if row.log_path else None
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"The {row.stage} stage of run {run_id} has no log yet.")
    return path


@router.get("/runs/{run_id}/stages/{stage}/log", response_class=PlainTextResponse, summary="a stage's log")
def stage_log(
    run_id: RowId,
    stage: str,
    request: Request,
    tail: Annotated[int, Query(ge=0, le=100000, description="last N lines; 0 = all")] = 0,
) -> str:
    """The stage's latest log: its last ``tail`` lines, or with no ``tail`` at most its last mebibyte."""
    path = _log_file(stage_row(web_state(request), run_id, stage), run_id)
    return read_tail(path, tail) if tail else read_window(path)


@router.get("/runs/{run_id}/stages/{stage}/log/stream", summary="a stage's log as Server-Sent Events")
async def stage_log_stream(run_id: RowId, stage: str, request: Request) -> StreamingResponse:
    """The log so far and then each new line while the stage runs; an ``end`` event when it is done."""
    web = web_state(request)
    row = await run_in_threadpool(stage_row, web, run_id, stage)
    return StreamingResponse(
        _follow(web, row, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


ACTIVE_STATES = ("queued", "running", "pending")


def _event(line: str) -> str:
    return f"data: {json.dumps(line)}\n\n"


async def _follow(web: WebState, row: StageRun, request: Request) -> AsyncIterator[str]:
    follower = LogFollower()
    path = Path(row.log_path) if row.log_path else None
    while True:
        current = await run_in_threadpool(stage_row, web, row.run_id, row.stage)
        done = current.state not in ACTIVE_STATES  # read before the log, so the log read is complete
        path = Path(current.log_path) if current.log_path else path
        for line in await run_in_threadpool(follower.read, path):
            yield _event(line)
        gone = await request.is_disconnected()
        if follower.behind and not gone:
            continue
        if done or gone:
            for line in follower.rest():
                yield _event(line)
            yield f"event: end\ndata: {json.dumps({'state': current.state, 'status': current.status})}\n\n"
            return
        await asyncio.sleep(STREAM_POLL)


class TriggerIn(BaseModel):
    """A change to decide, as ``ci-pipeline trigger`` takes it."""

    repo: str = Field(min_length=1, max_length=255)
    rev: str = Field(min_length=1, max_length=40)
    branch: str = Field(min_length=1, max_length=100)
    namespace: str = Field(default="rpms", min_length=1, max_length=100)
    force: bool = False
    #: Run options (see ci_pipeline.run_options), e.g. {"force_image": "true"}.
    options: dict[str, str] = Field(default_factory=dict, max_length=20)


@router.post("/trigger", dependencies=[Depends(require_token)], summary="decide a change (needs the token)")
def trigger_change(body: TriggerIn, request: Request) -> dict[str, Any]:
    """Queue a run for a change, or record why it is ignored, exactly as the command line does."""
    web = web_state(request)
    try:
        message = make_git_receive(
            repo=body.repo, rev=body.rev, branch=body.branch, namespace=body.namespace, username="ci-pipeline"
        )
        push = parse_git_receive(encode(message))
        verdict = web.trigger().trigger_change(push, force=body.force, options=body.options)
    except MessageError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return {
        "decision": verdict.decision,
        "reason": verdict.reason,
        "run_id": verdict.run_id,
        "build_id": verdict.build_id,
    }


@router.post("/runs/{run_id}/cancel", dependencies=[Depends(require_token)], summary="abort a run")
def cancel(run_id: RowId, request: Request) -> dict[str, Any]:
    """Ask for a run to be aborted; 409 when it is already complete."""
    try:
        accepted = cancel_run(web_state(request).store, run_id, CancelSource.API)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    if not accepted:
        raise HTTPException(status_code=409, detail=f"Run {run_id} is already complete.")
    return {"run_id": run_id, "cancel_requested": True}


class RerunIn(BaseModel):
    """Which stage a run starts again from."""

    stage: str = Field(min_length=1, max_length=32)


@router.post("/runs/{run_id}/rerun", dependencies=[Depends(require_token)], summary="run again from a stage")
def rerun(run_id: RowId, body: RerunIn, request: Request) -> dict[str, Any]:
    """Run a complete run again from ``stage`` with the same inputs."""
    try:
        rerun_from(web_state(request).store, run_id, body.stage)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except UsageError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return {"run_id": run_id, "rerun_from": body.stage}
