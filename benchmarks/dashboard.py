"""Server time of the dashboard's pages with 100,000 runs and 1,000,000 results stored.

Usage: python benchmarks/dashboard.py [--runs 100000] [--results-per-run 10] [--requests 200]
                                      [--postgres URL | --postgres ""] [--fresh]

Fills a SQLite store and a PostgreSQL schema with runs spread over a year (500 packages, 4 branches,
seven stages each, the newest ones still queued or running), their stage and test results, trigger
decisions and messages, with bulk inserts. The filled stores are kept (SQLite under
``~/.cache/ci-pipeline-bench/``, PostgreSQL in a schema named after the sizes and the day) and
reused by the next run of the same day; ``--fresh`` fills them again. Each page is then requested
through the app in this process (the time of the whole request, routing and rendering included) and
p50/p99 are printed per page and store, of the wall-clock time and of this process's CPU time (the
database server's own CPU is not in the latter: on PostgreSQL it is in the wall time only). The
first request of each page is printed apart (it compiles the template and, for the trends, reads
the past days that are then kept). Goal: p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

from ci_pipeline.config import load_config
from ci_pipeline.messages.topics import STAGE_ORDER
from ci_pipeline.store.db import Store, open_store
from ci_pipeline.store.models import Decision, OutboxMessage, Result, Run, StageRun, table_of
from ci_pipeline.web.server import create_app, freeze_startup_objects

PACKAGES = 500
BRANCHES = ("f26", "f27", "rawhide", "epel7")
STAGES = [str(stage) for stage in STAGE_ORDER]
#: Typical seconds per stage; each run's are drawn around them.
TYPICAL = {"build": 240, "functional": 90, "compose": 600, "integration": 400, "image": 900,
           "smoke": 120, "e2e": 1500}
ACTIVE = 40
CACHE = Path.home() / ".cache" / "ci-pipeline-bench"


def stage_rows(run_id: int, first_stage_id: int, created: datetime, rng: random.Random,
               active: bool) -> tuple[list[dict[str, Any]], str]:
    """The seven stage rows of one run and the run's status; an active run stops at a queued or running
    stage."""
    rows, at, status = [], created, "SUCCESS"
    failing = rng.choice(STAGES[:4]) if rng.random() < 0.1 else None
    image_due = rng.random() < 0.1
    stop = rng.randrange(len(STAGES)) if active else None
    for position, stage in enumerate(STAGES):
        row: dict[str, Any] = {"id": first_stage_id + position, "run_id": run_id, "position": position,
                               "stage": stage, "attempt": 0, "reason": "", "outputs": {}, "log_path": "",
                               "state": "pending", "status": None, "queued_at": None,
                               "started_at": None, "finished_at": None}
        if status != "SUCCESS" or (stage in ("image", "smoke", "e2e") and not image_due):
            row.update(state="skipped", finished_at=at, reason="skipped")
        elif stop is not None and position >= stop:
            if position == stop:
                state = rng.choice(("queued", "running"))
                row.update(state=state, queued_at=at, attempt=1 if state == "running" else 0,
                           started_at=at + timedelta(seconds=5) if state == "running" else None)
        else:
            wait = rng.expovariate(1 / 20)
            ran = rng.lognormvariate(0, 0.35) * TYPICAL[stage]
            started, at = at + timedelta(seconds=wait), at + timedelta(seconds=wait + ran)
            outcome = "FAILURE" if stage == failing else "SUCCESS"
            row.update(state="complete", status=outcome, attempt=1, started_at=started, finished_at=at,
                       queued_at=started - timedelta(seconds=wait))
            status = outcome
        rows.append(row)
    return rows, status


def generate(store: Store, runs: int, per_run: int, batch: int = 2000) -> None:
    """Bulk-insert ``runs`` runs with their stages, ``per_run`` results each, decisions and messages."""
    rng = random.Random(20)
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    step = timedelta(days=365) / runs
    result_id = stage_id = 1
    tables = {model: table_of(model) for model in (Run, StageRun, Result, Decision, OutboxMessage)}
    for first in range(0, runs, batch):
        chunk: dict[Any, list[dict[str, Any]]] = {model: [] for model in tables}
        for run_id in range(first + 1, min(runs, first + batch) + 1):
            package, branch = f"pkg{run_id % PACKAGES}", BRANCHES[run_id % len(BRANCHES)]
            created = start + step * run_id
            active = run_id > runs - ACTIVE
            unstarted = run_id > runs - ACTIVE // 4
            rows, status = stage_rows(run_id, stage_id, created, rng, active and not unstarted)
            stage_id += len(rows)
            nvr = f"{package}-1.0-{run_id}.fc26"
            rev = f"{run_id:040x}"
            finished = max((r["finished_at"] for r in rows if r["finished_at"]), default=None)
            chunk[Run].append({
                "id": run_id, "repo": package, "rev": rev, "namespace": "rpms", "branch": branch,
                "generation": 0, "ci_name": f"ci-pipeline-{branch}", "build_id": run_id,
                "state": "queued" if unstarted else "running" if active else "complete",
                "status": status, "reason": "", "fields": {"nvr": nvr, "repo": package, "rev": rev},
                "options": {}, "created_at": created, "started_at": None if unstarted else created,
                "finished_at": None if active else finished,
            })
            if not unstarted:
                chunk[StageRun].extend(rows)
            chunk[Decision].append({
                "id": run_id, "received_at": created, "msg_id": f"2026-{run_id}", "repo": package, "rev": rev,
                "namespace": "rpms", "branch": branch, "decision": "queued", "reason": "tracked",
                "build_id": run_id, "run_id": run_id, "forced": False,
            })
            for topic in ("package.complete", "complete"):
                body = json.dumps({"msg": {"repo": package, "status": status}}).encode()
                chunk[OutboxMessage].append({
                    "run_id": run_id, "topic": f"org.centos.prod.ci.pipeline.{topic}", "payload": body,
                    "created_at": created, "sent_at": created,
                })
            done = [r for r in rows if r["state"] == "complete"]
            for n in range(per_run):
                row = done[n % len(done)] if done else None
                test = n >= len(STAGES)
                chunk[Result].append({
                    "id": result_id, "testcase": f"ci-pipeline.{row['stage'] if row else 'build'}"
                    + (f".test_{n}" if test else ""),
                    "outcome": "FAILED" if row and row["status"] == "FAILURE" and test else "PASSED",
                    "item": nvr, "type": "koji_build", "submit_time": created, "note": "",
                    "data": {"item": [nvr], "test": [f"test_{n}"], "duration": ["1.5"]},
                    "run_id": run_id, "stage_run_id": row["id"] if row else None, "attempt": 1,
                    "source": "test" if test else "stage",
                })
                result_id += 1
        with store.engine.begin() as conn:
            for model, table in tables.items():
                if chunk[model]:
                    conn.execute(insert(table), chunk[model])
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def filled_store(url: str, runs: int, per_run: int, fresh: bool) -> Store:
    """The store at ``url``, filled unless it already holds the runs."""
    store = open_store(url)
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(table_of(Run))).scalar()
    if count != runs or fresh:
        if count:
            raise SystemExit(f"The store {url} holds {count} runs, not {runs}; remove it first.")
        began = time.perf_counter()
        generate(store, runs, per_run)
        print(f"{store.dialect}: filled {runs} runs, {runs * per_run} results in "
              f"{time.perf_counter() - began:.0f} s")
    else:
        print(f"{store.dialect}: reusing the filled store ({runs} runs)")
    return store


def paths(rng: random.Random, runs: int, count: int) -> dict[str, list[str]]:
    """The pages to request: ``count`` of each, with varied parameters."""
    def package() -> str:
        return f"pkg{rng.randrange(PACKAGES)}"
    return {
        "runs list": [rng.choice(("/", f"/?before={rng.randrange(runs)}", f"/?repo={package()}"))
                      for _ in range(count)],
        "run page": [f"/runs/{rng.choice((rng.randrange(1, runs), runs - rng.randrange(ACTIVE)))}"
                     for _ in range(count)],
        "package page": [f"/packages/{package()}" for _ in range(count)],
        "trends": ["/trends"] * count,
        "queue": ["/queue"] * count,
    }


async def time_pages(app: Any, pages: list[str]) -> tuple[list[float], list[float]]:
    """Seconds per GET through the app in this process: wall clock, and this process's CPU time."""
    wall, cpu = [], []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for path in pages:
            began, began_cpu = time.perf_counter(), time.process_time()
            response = await client.get(path)
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return wall, cpu


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.999999) - 1))] * 1000


def bench(url: str, runs: int, per_run: int, requests: int, fresh: bool) -> None:
    """Fill (or reuse) the store at ``url`` and print p50/p99 per page."""
    store = filled_store(url, runs, per_run, fresh)
    print(f"  load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} cores (wall times grow with it; cpu is this process's alone)")
    with tempfile.TemporaryDirectory() as state:
        config = load_config(environ={"CI_PIPELINE_STATE_DIR": state, "CI_PIPELINE_STORE_URL": url})
        app = create_app(config, store)
        freeze_startup_objects()  # as start_web_server does
        for name, pages in paths(random.Random(7), runs, requests).items():
            # The first request compiles the page's template (and fills the trends' cache of past days).
            first = asyncio.run(time_pages(app, pages[:1]))[0][0] * 1000
            asyncio.run(time_pages(app, pages[1:5]))
            wall, cpu = asyncio.run(time_pages(app, pages))
            verdict = "ok" if percentile(wall, 0.99) < 100 else "OVER 100 ms"
            print(f"  {store.dialect:<10} {name:<13} wall p50 {percentile(wall, 0.5):6.1f} ms "
                  f"p99 {percentile(wall, 0.99):6.1f} ms {verdict:<11} "
                  f"cpu p50 {percentile(cpu, 0.5):5.1f} ms "
                  f"p99 {percentile(cpu, 0.99):5.1f} ms  first {first:.0f} ms  ({len(wall)} requests)")
    store.close()


def postgres_schema(base: str, name: str) -> Iterator[str]:
    """The URL of a kept schema ``name`` on the PostgreSQL server ``base`` (made when missing)."""
    admin = open_store(base, migrate=False)
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {name}"))
    admin.close()
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{name}"


def main() -> None:
    """Benchmark on SQLite and, unless --postgres is empty, PostgreSQL."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--results-per-run", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--fresh", action="store_true", help="fill the stores again")
    args = parser.parse_args()
    key = f"dashboard_{args.runs}_{args.results_per_run}_{datetime.now(UTC):%Y%m%d}"
    CACHE.mkdir(parents=True, exist_ok=True)
    sqlite_file = CACHE / f"{key}.sqlite"
    if args.fresh:
        sqlite_file.unlink(missing_ok=True)
    bench(f"sqlite:///{sqlite_file}", args.runs, args.results_per_run, args.requests, args.fresh)
    if args.postgres:
        schema = f"bench_{key}"
        if args.fresh:
            admin = open_store(args.postgres, migrate=False)
            with admin.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.close()
        for url in postgres_schema(args.postgres, schema):
            bench(url, args.runs, args.results_per_run, args.requests, args.fresh)


if __name__ == "__main__":
    main()
