"""The server-rendered dashboard: runs with their stage chips, a run's page, and the decision log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ci_pipeline.store import runs as q
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.decisions import decision_for_build, get_decision, newest_decisions
from ci_pipeline.store.listing import StageSummary, newest_runs, stage_summaries
from ci_pipeline.store.outbox import run_messages
from ci_pipeline.store.records import (
    artifact_files,
    decision_json,
    message_body,
    message_json,
    run_json,
    stage_json,
)
from ci_pipeline.store.results import ITEM_TYPE
from ci_pipeline.store.rows import StageRun
from ci_pipeline.store.states import RunState, StageState, Status
from ci_pipeline.store.waivers import subject_waivers, waiver_json
from ci_pipeline.web.logs import read_tail
from ci_pipeline.web.metrics import metrics_text
from ci_pipeline.web.state import MAX_ROW_ID, BuildId, RowId, web_state
from ci_pipeline.web.templating import chip_class as chip_class
from ci_pipeline.web.templating import templates
from ci_pipeline.web.timeline import stage_bars

router = APIRouter(include_in_schema=False)
TRIGGER_CI_NAME = "ci-pipeline-trigger"
Word = Annotated[str | None, Query(max_length=255)]
RunKey = Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)]
PAGE_SIZE = 50
#: Test outcomes listed first under a stage.
FAILED_OUTCOMES = frozenset({"FAILED", "ERROR", "NEEDS_INSPECTION"})
#: How many of a running or failed stage's last log lines its page shows.
LOG_LINES_SHOWN = 200


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    repo: Word = None,
    page: Annotated[int, Query(ge=0, le=10**6)] = 0,
    before: RunKey = None,
    after: RunKey = None,
) -> Response:
    """The newest runs with a chip per stage, paged by run id (``before``/``after``; ``page`` too)."""
    web = web_state(request)
    with web.store.session() as session:
        offset = 0 if before is not None or after is not None else page * PAGE_SIZE
        rows = newest_runs(session, repo=repo, offset=offset, limit=PAGE_SIZE + 1, before=before, after=after)
        more = len(rows) > PAGE_SIZE
        rows = rows[-PAGE_SIZE:] if after is not None else rows[:PAGE_SIZE]
        stages: dict[int, list[StageSummary]] = {}
        for stage in stage_summaries(session, [row.id for row in rows]):
            stages.setdefault(stage.run_id, []).append(stage)
    runs = [{**run_json(row, web.config), "stages": stages.get(row.id, [])} for row in rows]
    context = {
        "runs": runs,
        "repo": repo or "",
        "has_older": more if after is None else bool(rows),
        "has_newer": more if after is not None else before is not None or page > 0,
        "live": any(run["state"] != "complete" for run in runs),
    }
    return templates.TemplateResponse(request, "runs.html", context)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: RowId, request: Request) -> Response:
    """One run: its stages on one time axis with their tests (failed first) and live logs, its
    build's waivers, messages and artifacts."""
    web = web_state(request)
    with web.store.session() as session:
        run = q.find_run(session, run_id)
        if run is None:
            raise HTTPException(status_code=404, detail=f"There is no run {run_id}.")
        rows = q.stages_of(session, run_id)
        tests = q.stage_tests(session, rows)
        messages = [message_json(row) for row in run_messages(session, run_id)]
        nvr = run.fields.get("nvr")
        waivers = [waiver_json(row) for row in subject_waivers(session, ITEM_TYPE, str(nvr))] if nvr else []
    bars, span = stage_bars(rows, utcnow())
    stages = [
        {
            **stage_json(row, run_id),
            "bars": bar,
            "tests": failed_first(tests.get(row.id, [])),
            "log_lines": stage_log_lines(row),
        }
        for row, bar in zip(rows, bars, strict=True)
    ]
    for message in messages:
        message["status"] = message_body(message).get("status", "")
    context: dict[str, Any] = {
        "run": run_json(run, web.config),
        "fields": run.fields,
        "stages": stages,
        "span": span,
        "messages": messages,
        "waivers": waivers,
        "artifacts": artifact_files(web.config, run_id, limit=200),
        "live": run.state != RunState.COMPLETE,
    }
    return templates.TemplateResponse(request, "run.html", context)


def failed_first(tests: list[dict[str, object]]) -> list[dict[str, object]]:
    """A stage's tests with the failed and errored ones first, each group in the order they ran."""
    return sorted(tests, key=lambda test: str(test["outcome"]).upper() not in FAILED_OUTCOMES)


def stage_log_lines(row: StageRun) -> list[str]:
    """The end of a running or failed stage's log, shown in its page (followed live while it runs)."""
    if row.state != StageState.RUNNING and row.status != Status.FAILURE:
        return []
    path = Path(row.log_path) if row.log_path else None
    if path is None or not path.is_file():
        return []
    return read_tail(path, LOG_LINES_SHOWN).splitlines()


@router.get("/decisions", response_class=HTMLResponse)
def decisions_page(request: Request, repo: Word = None, decision: Word = None) -> Response:
    """The decision log: why each push was queued or ignored."""
    with web_state(request).store.session() as session:
        found = newest_decisions(session, repo_contains=repo, kind=decision, limit=200)
        rows = [decision_json(row) for row in found]
    return templates.TemplateResponse(
        request, "decisions.html", {"decisions": rows, "repo": repo or "", "decision": decision or ""}
    )


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
def decision_page(decision_id: RowId, request: Request) -> Response:
    """One trigger decision."""
    with web_state(request).store.session() as session:
        row = get_decision(session, decision_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"There is no decision {decision_id}.")
        data = decision_json(row)
    return templates.TemplateResponse(
        request, "decisions.html", {"decisions": [data], "repo": data["repo"], "decision": "", "single": True}
    )


@router.get("/job/{ci_name}/{build_id}/")
@router.get("/job/{ci_name}/{build_id}")
def job_page(ci_name: str, build_id: BuildId, request: Request) -> Response:
    """A ``build_url``: a run's page, or for the trigger's own build ids its decision."""
    with web_state(request).store.session() as session:
        if ci_name == TRIGGER_CI_NAME:
            found = decision_for_build(session, build_id)
            target = None if found is None else f"/decisions/{found}"
        else:
            found = q.find_run_by_build(session, ci_name, build_id)
            target = None if found is None else f"/runs/{found}"
    if target is None:
        raise HTTPException(status_code=404, detail=f"{ci_name} has no build {build_id}.")
    return RedirectResponse(target, status_code=302)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus metrics read from the store."""
    return Response(metrics_text(web_state(request).store), media_type="text/plain; version=0.0.4")
