"""Latency of the ResultsDB-compatible API with many results stored, against the bare SQL for the same rows.

Usage: python benchmarks/results_api.py [--results 1000000] [--requests 300] [--postgres URL]
Prints p50 and p99 in milliseconds of /api/v2.0/results/latest?item=X and
/api/v2.0/results?item=X&testcases=Y (in-process ASGI client) and of the bare SQL query.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

from ci_pipeline.config import load_config
from ci_pipeline.store.db import open_store
from ci_pipeline.store.models import Result, ResultData, utcnow
from ci_pipeline.web.server import create_app

TESTCASES = [f"ci-pipeline.{name}" for name in ("build", "functional", "compose", "integration", "image")]
TESTCASES += [f"ci-pipeline.functional.test_{n}" for n in range(5)]


def bulk_insert(store: Any, count: int, batch: int = 50000) -> None:
    """Insert ``count`` results over count/10 items with Core executemany."""
    start = utcnow() - timedelta(days=30)
    with store.engine.begin() as conn:
        for first in range(0, count, batch):
            rows, data = [], []
            for n in range(first, min(count, first + batch)):
                item = f"pkg{n // 10 % (count // 100 or 1)}-1.0-{n // 1000}.fc26"
                rows.append(
                    {
                        "id": n + 1,
                        "testcase": TESTCASES[n % len(TESTCASES)],
                        "outcome": "PASSED",
                        "item": item,
                        "type": "koji_build",
                        "submit_time": start + timedelta(seconds=n),
                        "data": {"item": [item], "type": ["koji_build"]},
                        "source": "api",
                    }
                )
                data.append({"result_id": n + 1, "key": "item", "value": item})
            conn.execute(insert(Result), rows)
            conn.execute(insert(ResultData), data)
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile, in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def time_api(app: Any, paths: list[str]) -> list[float]:
    """Latency of each GET through an in-process ASGI client."""
    transport = httpx.ASGITransport(app=app)
    samples = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for path in paths:
            began = time.perf_counter()
            response = await client.get(path)
            samples.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text
    return samples


def time_sql(store: Any, queries: list[Any]) -> list[float]:
    """Latency of each bare SQL query."""
    samples = []
    for query in queries:
        began = time.perf_counter()
        with store.engine.connect() as conn:
            conn.execute(query).all()
        samples.append(time.perf_counter() - began)
    return samples


def bench(url: str, count: int, requests: int, state_dir: str) -> None:
    """Fill the store at ``url`` and print the figures."""
    config = load_config(environ={"CI_PIPELINE_STATE_DIR": state_dir, "CI_PIPELINE_STORE_URL": url})
    store = open_store(url)
    began = time.perf_counter()
    bulk_insert(store, count)
    print(f"{store.dialect}: inserted {count} results in {time.perf_counter() - began:.1f} s")
    app = create_app(config, store)
    items = [
        f"pkg{random.randrange(count // 100 or 1)}-1.0-{random.randrange(count // 1000 or 1)}.fc26"
        for _ in range(requests)
    ]
    tcs = [random.choice(TESTCASES) for _ in range(requests)]
    latest = [f"/api/v2.0/results/latest?item={i}" for i in items]
    listing = [f"/api/v2.0/results?item={i}&testcases={t}" for i, t in zip(items, tcs, strict=True)]
    newest = select(func.max(Result.id))
    sql_latest = [
        select(Result).where(Result.id.in_(newest.where(Result.item == i).group_by(Result.testcase)))
        for i in items
    ]
    sql_list = [
        select(Result)
        .where(Result.item == i, Result.testcase == t)
        .order_by(Result.submit_time.desc())
        .limit(21)
        for i, t in zip(items, tcs, strict=True)
    ]
    asyncio.run(time_api(app, latest[:20]))  # warm up
    for name, api_paths, sql in (
        ("results/latest?item", latest, sql_latest),
        ("results?item&testcases", listing, sql_list),
    ):
        api = asyncio.run(time_api(app, api_paths))
        bare = time_sql(store, sql)
        print(
            f"  {name:<24} API p50 {percentile(api, 0.5):6.2f} ms  p99 {percentile(api, 0.99):6.2f} ms   "
            f"SQL p50 {percentile(bare, 0.5):6.2f} ms  p99 {percentile(bare, 0.99):6.2f} ms"
        )
    store.close()


def main() -> None:
    """Run the benchmark on SQLite and, when reachable, PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/store.sqlite", args.results, args.requests, tmp)
        if args.postgres:
            schema = f"bench_results_{int(time.time())}"
            admin = open_store(args.postgres, migrate=False)
            with admin.engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            try:
                sep = "&" if "?" in args.postgres else "?"
                bench(
                    f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args.results, args.requests, tmp
                )
            finally:
                with admin.engine.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.close()


if __name__ == "__main__":
    main()
