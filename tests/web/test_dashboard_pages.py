"""The dashboard's pages about many runs, served on SQLite and PostgreSQL: a package's history,
trends, the queue, and a run's timeline with its tests and log."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import httpx
from web_fixtures import add_finished_run

from ci_pipeline.config import Config
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.decision_answers import replace_answer
from ci_pipeline.store.leases import acquire
from ci_pipeline.web.broker import BrokerSnapshot, BrokerWatch
from ci_pipeline.web.server import create_app
from store.dashboard_rows import add_run_with_stages


def test_a_package_page_shows_its_strip_figures_last_runs_decisions_and_gating(
    any_client: httpx.Client, store: Store, web_config: Config
) -> None:
    bad = add_finished_run(store, web_config, functional="FAILURE", generation=1)
    with store.session() as session:
        replace_answer(session, ("koji_build", "ci-calc-1.0-1.3.591b0d2.fc26"), "bodhi_update_push_stable",
                       "fedora-26", {"policies_satisfied": False, "summary": "1 of 2 required tests failed"})
    page = any_client.get("/packages/ci-calc")
    assert page.status_code == 200
    text = page.text
    assert text.count('class="cell success"') >= 3 and 'class="cell failure"' in text
    assert re.search(r"<th scope=\"row\">functional</th><td>50%", text)
    assert f'Last bad run</dt><dd><a href="/runs/{bad}"' in text
    assert "bodhi_update_push_stable" in text and "1 of 2 required tests failed" in text and "blocked" in text
    assert "is tracked." in text
    assert any_client.get("/packages/no-such-package").status_code == 404
    assert any_client.get("/packages/ci-calc", params={"last": 0}).status_code == 400


def test_the_trends_page_draws_a_chart_per_stage_with_its_figures_as_a_table(
    any_client: httpx.Client,
) -> None:
    page = any_client.get("/trends")
    assert page.status_code == 200
    for stage in ("build", "functional"):
        assert f'<h2 id="trend-{stage}">{stage}</h2>' in page.text
        assert f'aria-labelledby="dur-{stage}-t dur-{stage}-d"' in page.text
    assert page.text.count('<svg class="chart"') == 4 and "<script" not in page.text.split("</head>")[1]
    assert re.search(r"<th scope=\"row\">\d{4}-\d\d-\d\d</th><td>1</td>", page.text)


def test_the_queue_says_what_runs_and_why_the_rest_waits(any_client: httpx.Client, store: Store) -> None:
    start = utcnow() - timedelta(minutes=3)
    holder = add_run_with_stages(store, "vim", start, [("build", "complete", "SUCCESS", 5),
                                                       ("compose", "running", None, 0)], state="running")
    locked = add_run_with_stages(store, "emacs", start, [("build", "complete", "SUCCESS", 5),
                                                         ("compose", "queued", None, 0)], state="running")
    slot = add_run_with_stages(store, "nano", start, [("build", "queued", None, 0)], state="running")
    add_run_with_stages(store, "ed", start, [], state="queued")
    page = any_client.get("/queue").text
    running = page.split('id="running"')[1].split('id="waiting"')[0]
    waiting = page.split('id="waiting"')[1]
    assert f'href="/runs/{holder}#stage-compose"' in running and "nano" not in running
    assert f"The compose lock of f26 is held by run {holder}." in waiting
    assert f'href="/runs/{locked}"' in waiting
    assert "No free slot: 1 stage running." in waiting and f'href="/runs/{slot}"' in waiting
    assert "Waits for a scheduler to claim it." in waiting
    assert "No machine is leased." in page and "Celery" not in page


def test_the_queue_page_lists_the_machines_runs_hold(any_client: httpx.Client, store: Store) -> None:
    run = add_run_with_stages(store, "vim", utcnow(), [("e2e", "running", None, 0)], state="running")
    acquire(store, "ssh", ["lab1", "lab2"], 2, run_id=run, stage="e2e", attempt=1, holder="h",
            until=utcnow() + timedelta(minutes=2))
    page = any_client.get("/queue").text
    machines = page.split('id="machines-h"')[1]
    assert "lab1" in machines and "lab2" in machines and f'href="/runs/{run}"' in machines
    assert "No machine is leased." not in page


def test_a_run_page_draws_stage_bars_lists_failed_tests_first_and_highlights_failing_log_lines(
    any_client: httpx.Client, store: Store, web_config: Config
) -> None:
    run_id = add_finished_run(store, web_config, functional="FAILURE", generation=1)
    with store.session() as session:
        from ci_pipeline.store.runs import stages_of

        log = stages_of(session, run_id)[1].log_path
    with open(log, "a") as handle:
        handle.write("test_div FAILED: boom\n")
    page = any_client.get(f"/runs/{run_id}").text
    functional = page.split('id="stage-functional"')[1].split("</li>")[0]
    assert functional.index("test_div") < functional.index("test_add")
    assert '<span class="seg running" style="left: ' in functional
    assert '<span class="line failing">test_div FAILED: boom</span>' in functional
    assert '<span class="line">functional line 50</span>' in functional
    assert f'href="/api/v1/runs/{run_id}/stages/functional/log"' in functional


def test_the_runs_list_pages_by_run_id(any_client: httpx.Client, store: Store, web_config: Config) -> None:
    for generation in range(1, 52):
        add_finished_run(store, web_config, generation=generation)
    first = any_client.get("/").text
    assert "← newer" not in first and 'before=3">older →' in first  # runs 52 to 3
    older = any_client.get("/", params={"before": 3}).text
    assert '/runs/1"' in older and 'after=2">← newer' in older and "older →" not in older
    newer = any_client.get("/", params={"after": 1}).text
    assert '/runs/51"' in newer and '/runs/2"' in newer and '/runs/52"' not in newer  # the 50 after run 1
    assert 'after=51">← newer' in newer and 'before=2">older →' in newer


def test_with_celery_the_queue_shows_queue_depths_workers_and_tasks_no_worker_took(
    web_config: Config, sqlite_store: Store
) -> None:
    executor = web_config.executor.model_copy(update={"kind": "celery"})
    config = web_config.model_copy(update={"executor": executor})
    started = add_run_with_stages(sqlite_store, "vim", utcnow(), [("build", "running", None, 0)],
                                  state="running")
    app = create_app(config, sqlite_store)
    snapshot = BrokerSnapshot({"ci-pipeline.build": 4, "ci-pipeline.image": None},
                              {"celery@host-a": ["ci-pipeline.build"]}, time.time())
    app.state.web._broker = BrokerWatch(config, take=lambda _config: snapshot)

    async def queue_page() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
            return (await client.get("/queue")).text

    first = asyncio.run(queue_page())
    assert "Asking the broker and the workers" in first
    for _ in range(100):
        if app.state.web._broker.snapshot().taken:
            break
        time.sleep(0.05)
    page = asyncio.run(queue_page())
    assert "<td><code>ci-pipeline.build</code></td><td>4</td><td>celery@host-a</td>" in page
    assert "<strong>celery@host-a</strong> (ci-pipeline.build)" in page
    assert f'href="/runs/{started}"' in page.split('id="waiting"')[1]  # Redis knows no worker of it
    assert "Sent to the worker queue ci-pipeline.build (4 tasks waiting there)" in page
