"""The dashboard's pages about many runs: a package's history, trends per stage, and the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from ci_pipeline.engine.definition import pipeline_for
from ci_pipeline.messages.topics import Stage
from ci_pipeline.store import activity, history
from ci_pipeline.store.leases import machine_leases
from ci_pipeline.store.listing import stage_summaries
from ci_pipeline.store.records import decision_json, run_json
from ci_pipeline.store.results import ITEM_TYPE
from ci_pipeline.store.states import RunState, StageState, Status
from ci_pipeline.store.trends import PERCENTILES
from ci_pipeline.web.broker import task_workers
from ci_pipeline.web.charts import bar_chart, line_chart
from ci_pipeline.web.history import outcome_strip, stage_figures
from ci_pipeline.web.state import web_state
from ci_pipeline.web.templating import templates
from ci_pipeline.web.trend_cache import TREND_DAYS
from ci_pipeline.web.waiting import waiting_for_images, waiting_for_workers, waiting_runs, waiting_stages

router = APIRouter(include_in_schema=False)
#: The most active stages and unstarted runs the queue page lists.
QUEUE_LIMIT = 500


@router.get("/packages/{repo}", response_class=HTMLResponse)
def package_page(
    repo: str, request: Request, last: Annotated[int, Query(ge=1, le=200)] = 50
) -> Response:
    """A package's runs as a strip per stage, each stage's figures, last good and bad run, decisions,
    and gating."""
    if len(repo) > 255:
        raise HTTPException(status_code=400, detail="A package name is at most 255 characters long.")
    web = web_state(request)
    with web.store.session() as session:
        runs = history.package_runs(session, repo, last)
        decisions = [decision_json(row) for row in history.package_decisions(session, repo, 20)]
        if not runs and not decisions:
            raise HTTPException(status_code=404, detail=f"There are no runs or decisions of '{repo}'.")
        rows = stage_summaries(session, [run.id for run in runs])
        good = history.last_run_with_status(session, repo, Status.SUCCESS)
        bad = history.last_run_with_status(session, repo, Status.FAILURE)
        nvr = next((str(run.fields["nvr"]) for run in runs if run.fields.get("nvr")), "")
        answers = history.subject_answers(session, ITEM_TYPE, nvr) if nvr else []
        oldest_first = list(reversed(runs))
        names, strip = outcome_strip(oldest_first, rows)
        context: dict[str, Any] = {
            "repo": repo,
            "last": last,
            "runs": [run_json(run, web.config) for run in oldest_first],
            "names": names,
            "strip": strip,
            "figures": stage_figures(rows),
            "good": run_json(good, web.config) if good else None,
            "bad": run_json(bad, web.config) if bad else None,
            "decisions": decisions,
            "nvr": nvr,
            "answers": [
                {"context": a.decision_context, "product_version": a.product_version, **a.answer}
                for a in answers
            ],
            "live": any(run.state != RunState.COMPLETE for run in runs),
        }
    return templates.TemplateResponse(request, "package.html", context)


def _days(today: datetime) -> list[str]:
    return [(today - timedelta(days=back)).strftime("%Y-%m-%d") for back in range(TREND_DAYS - 1, -1, -1)]


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request) -> Response:
    """Per stage: duration percentiles and failure rate per day over the last 30 days, as SVG charts."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = _days(today)
    web = web_state(request)
    figures = web.trends.figures(web.store, today)
    order = {str(stage): index for index, stage in enumerate(Stage)}
    stages = sorted({f.stage for f in figures}, key=lambda name: (order.get(name, len(order)), name))
    charts = []
    for stage in stages:
        by_day = {f.day: f for f in figures if f.stage == stage}
        series = {
            f"p{round(share * 100)}": [by_day[d].percentiles[i] if d in by_day else None for d in days]
            for i, share in enumerate(PERCENTILES)
        }
        rates = [by_day[d].failure_rate if d in by_day else None for d in days]
        charts.append({
            "stage": stage,
            "durations": line_chart(f"dur-{stage}", f"{stage}: duration percentiles per day", days, series),
            "failures": bar_chart(f"fail-{stage}", f"{stage}: failure rate per day", days, rates),
            "rows": [by_day[d] for d in days if d in by_day],
        })
    names = [f"p{round(share * 100)}" for share in PERCENTILES]
    return templates.TemplateResponse(
        request, "trends.html", {"charts": charts, "days": days, "percentile_names": names}
    )


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request) -> Response:
    """What runs now, what waits and why, the Celery workers and queues, and the machines leased."""
    web = web_state(request)
    now = datetime.now(UTC)
    with web.store.session() as session:
        active = activity.active_stages(session, QUEUE_LIMIT)
        unstarted = activity.unstarted_runs(session, QUEUE_LIMIT)
        runs = {run.id: run for _stage, run in active}
        pending = [s for s in activity.pending_stages(session, runs) if s.stage == Stage.IMAGE]
        last_images = activity.last_images(session, {runs[s.run_id].branch for s in pending})
        leases = machine_leases(session)
    interval = _image_interval(request)
    waiting = [
        *waiting_stages(active),
        *waiting_for_images(runs, pending, last_images, interval, now),
        *waiting_runs(unstarted),
    ]
    running = [(stage, run) for stage, run in active if stage.state == StageState.RUNNING]
    celery = web.config.executor.kind == "celery"
    broker = web.broker_watch().snapshot() if celery else None
    workers = task_workers(web.config, [(r.id, s.stage, s.attempt) for s, r in running]) if celery else None
    if broker is not None and workers is not None:
        queued = waiting_for_workers(running, workers, broker.depths)
        waiting[:0] = queued
        taken = {(w.run.id, w.stage) for w in queued}
        running = [(stage, run) for stage, run in running if (run.id, stage.stage) not in taken]
    context: dict[str, Any] = {
        "running": running,
        "waiting": waiting,
        "leases": leases,
        "celery": celery,
        "broker": broker,
        "workers": workers or {},
        "now": now,
        "live": True,
    }
    return templates.TemplateResponse(request, "queue.html", context)


def _image_interval(request: Request) -> float:
    try:
        return pipeline_for(web_state(request).config).spec(Stage.IMAGE).interval
    except KeyError:
        return 0.0
