"""The server-rendered dashboard: runs with their stage chips, a run's page, and the decision log."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ci_pipeline.store import runs as q
from ci_pipeline.store.decisions import decision_for_build, get_decision, newest_decisions
from ci_pipeline.store.listing import newest_runs, run_test_results
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
from ci_pipeline.store.states import RunState
from ci_pipeline.store.waivers import subject_waivers, waiver_json
from ci_pipeline.web.api_runs import stages_by_run
from ci_pipeline.web.metrics import metrics_text
from ci_pipeline.web.state import BuildId, RowId, web_state

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(resources.files("ci_pipeline.web").joinpath("templates")))
TRIGGER_CI_NAME = "ci-pipeline-trigger"
Word = Annotated[str | None, Query(max_length=255)]


def chip_class(state: str | None, status: str | None) -> str:
    """The CSS class of a stage or run: its status once complete, else its state."""
    if state == "complete":
        return {"SUCCESS": "success", "FAILURE": "failure", "ABORTED": "aborted"}.get(status or "", "aborted")
    return state or "pending"


templates.env.globals["chip_class"] = chip_class


def _duration(value: float | None) -> str:
    if value is None:
        return ""
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{value:.1f}s"


templates.env.filters["duration"] = _duration


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request, repo: Word = None, page: Annotated[int, Query(ge=0, le=10**6)] = 0
) -> Response:
    """The newest runs with a chip per stage."""
    web = web_state(request)
    with web.store.session() as session:
        rows = newest_runs(session, repo=repo, offset=page * 50, limit=51)
        stages = stages_by_run(session, [row.id for row in rows[:50]])
    runs = [{**run_json(row, web.config), "stages": stages.get(row.id, [])} for row in rows[:50]]
    live = any(run["state"] != "complete" for run in runs)
    return templates.TemplateResponse(
        request,
        "runs.html",
        {"runs": runs, "repo": repo or "", "page": page, "has_next": len(rows) > 50, "live": live},
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: RowId, request: Request) -> Response:
    """One run: stage timeline, durations, test results, its build's waivers, messages, logs, artifacts."""
    web = web_state(request)
    with web.store.session() as session:
        run = q.find_run(session, run_id)
        if run is None:
            raise HTTPException(status_code=404, detail=f"There is no run {run_id}.")
        stages = [stage_json(row, run_id) for row in q.stages_of(session, run_id)]
        messages = [message_json(row) for row in run_messages(session, run_id)]
        tests = run_test_results(session, run_id)
        nvr = run.fields.get("nvr")
        waivers = [waiver_json(row) for row in subject_waivers(session, ITEM_TYPE, str(nvr))] if nvr else []
    info = run_json(run, web.config)
    for message in messages:
        message["status"] = message_body(message).get("status", "")
    context: dict[str, Any] = {
        "run": info,
        "fields": run.fields,
        "stages": stages,
        "messages": messages,
        "tests": tests,
        "waivers": waivers,
        "artifacts": artifact_files(web.config, run_id, limit=200),
        "live": run.state != RunState.COMPLETE,
        "total": max((s["duration"] or 0 for s in stages), default=0) or 1,
    }
    return templates.TemplateResponse(request, "run.html", context)


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
