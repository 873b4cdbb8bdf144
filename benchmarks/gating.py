"""Gating decisions per second and their latency with 50 policies and many stored results.

Usage: python benchmarks/gating.py [--results 1000000] [--requests 500] [--postgres URL|""]
Fills the store with results (bulk inserts, ten per build over 20 test cases), writes 50 policies in
Greenwave's YAML form (5 decision contexts, package globs, 2 to 4 rules each, some with scenarios),
and times POST /api/v1.0/decision through an in-process ASGI client, one request after another.
Prints decisions per second, p50 and p99 in milliseconds, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from results_api import percentile
from sqlalchemy import insert, text

from ci_pipeline.config import load_config
from ci_pipeline.store.db import open_store
from ci_pipeline.store.models import Result, utcnow
from ci_pipeline.web.server import create_app

TESTCASES = [f"dist.check{n}" for n in range(20)]
CONTEXTS = [f"bodhi_update_push_{name}" for name in ("stable", "testing", "critical", "rawhide", "epel")]
OUTCOMES = ("PASSED", "PASSED", "PASSED", "FAILED", "ERROR", "RUNNING", "INFO")
POLICIES = 50
PER_BUILD = 10


def policy_file(path: Path) -> None:
    """Write 50 policies, each gating the builds of one package prefix at one decision context."""
    rng = random.Random(7)
    documents = []
    for n in range(POLICIES):
        rules = []
        for testcase in rng.sample(TESTCASES, rng.randint(2, 4)):
            scenario = ", scenario: x86_64" if rng.random() < 0.2 else ""
            rules.append(f"  - !PassingTestCaseRule {{test_case_name: {testcase}{scenario}}}\n")
        documents.append(
            f"--- !Policy\nid: policy-{n}\nproduct_versions: [fedora-*]\n"
            f"decision_context: {CONTEXTS[n % len(CONTEXTS)]}\nsubject_type: koji_build\n"
            f"packages: ['pkg{n % 10}*']\nexcluded_packages: [pkg{n % 10}9999-*]\nrules:\n{''.join(rules)}"
        )
    path.write_text("".join(documents))


def build_nvr(n: int) -> str:
    """The NVR of the n-th build."""
    return f"pkg{n}-1.0-1.fc26"


def bulk_insert(store: Any, count: int, batch: int = 50000) -> None:
    """Insert ``count`` results, PER_BUILD per build, with Core executemany."""
    start = utcnow() - timedelta(days=30)
    rng = random.Random(11)
    with store.engine.begin() as conn:
        for first in range(0, count, batch):
            rows = []
            for n in range(first, min(count, first + batch)):
                item = build_nvr(n // PER_BUILD)
                data: dict[str, list[str]] = {"item": [item], "type": ["koji_build"]}
                if n % 3 == 0:
                    data["scenario"] = ["x86_64"]
                rows.append(
                    {
                        "id": n + 1,
                        "testcase": rng.choice(TESTCASES),
                        "outcome": rng.choice(OUTCOMES),
                        "item": item,
                        "type": "koji_build",
                        "submit_time": start + timedelta(seconds=n),
                        "data": data,
                        "source": "api",
                    }
                )
            conn.execute(insert(Result), rows)
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


async def time_decisions(app: Any, bodies: list[dict[str, Any]]) -> list[float]:
    """Latency of each decision through an in-process ASGI client."""
    transport = httpx.ASGITransport(app=app)
    samples = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for body in bodies:
            began = time.perf_counter()
            response = await client.post("/api/v1.0/decision", json=body)
            samples.append(time.perf_counter() - began)
            assert response.status_code in (200, 404), response.text
    return samples


def bench(url: str, count: int, requests: int, state_dir: str) -> None:
    """Fill the store at ``url`` and print the figures."""
    config = load_config(environ={"CI_PIPELINE_STATE_DIR": state_dir, "CI_PIPELINE_STORE_URL": url})
    store = open_store(url)
    began = time.perf_counter()
    bulk_insert(store, count)
    print(f"{store.dialect}: inserted {count} results in {time.perf_counter() - began:.1f} s")
    policies = Path(state_dir) / "policies.yaml"
    policy_file(policies)
    app = create_app(config, store, policy_file=policies)
    rng = random.Random(13)
    builds = count // PER_BUILD or 1
    bodies = [
        {
            "decision_context": rng.choice(CONTEXTS) if n % 4 else rng.sample(CONTEXTS, 2),
            "product_version": "fedora-26",
            "subject_type": "koji_build",
            "subject_identifier": build_nvr(rng.randrange(builds)),
            "verbose": n % 2 == 0,
        }
        for n in range(requests)
    ]
    asyncio.run(time_decisions(app, bodies[:20]))  # warm up
    began = time.perf_counter()
    samples = asyncio.run(time_decisions(app, bodies))
    elapsed = time.perf_counter() - began
    print(
        f"  {POLICIES} policies, {requests} decisions: {requests / elapsed:7.1f} decisions/s   "
        f"p50 {percentile(samples, 0.5):6.2f} ms  p99 {percentile(samples, 0.99):6.2f} ms"
    )
    store.close()


def main() -> None:
    """Run the benchmark on SQLite and, when a URL is given, PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/store.sqlite", args.results, args.requests, tmp)
        if args.postgres:
            schema = f"bench_gating_{int(time.time())}"
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
