"""Throughput of the Celery executor with 1, 2 and 4 ``ci-pipeline worker`` processes on this machine.

200 one-stage runs whose command sleeps 0.5 s, driven by one scheduler on a fresh PostgreSQL schema;
each worker runs 2 stages at once. Prints runs per minute for each worker count and the ratio to one
worker. Needs RabbitMQ, Redis and PostgreSQL on 127.0.0.1. Usage: ``python benchmarks/scale_out.py
[--runs 200] [--workers 1,2,4]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from scale_out_fixtures import (
    postgres_schema,
    queue_runs,
    rabbit_vhost,
    start_worker,
    stop,
    write_config,
    write_pipeline,
)

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import load_config
from ci_pipeline.engine.core import Engine
from ci_pipeline.store.db import open_store

PER_WORKER = 2


def measure(runs: int, workers: int, directory: Path) -> float:
    """Seconds for one scheduler to finish ``runs`` one-stage runs with ``workers`` workers."""
    pipeline = write_pipeline(directory / "pipeline.toml", "sleep 0.5", ("build",))
    with rabbit_vhost() as vhost, postgres_schema() as store_url:
        config_path = write_config(directory, store_url=store_url, vhost=vhost, pipeline=pipeline, runs=runs,
                                   in_flight=workers * PER_WORKER * 2)
        queue_runs(config_path, runs)
        processes = [start_worker(config_path, f"b{n}@bench", directory / f"b{n}.log", PER_WORKER)
                     for n in range(workers)]
        config = load_config(config_path, environ={})
        store = open_store(config.store.url)
        engine = Engine(config, store, MemoryBus("memory://"), max_active=runs)
        try:
            started = time.perf_counter()
            while engine.tick(wait=0.02) or not engine.idle():
                pass
            return time.perf_counter() - started
        finally:
            engine.shutdown()
            store.close()
            for process in processes:
                stop(process)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    results: dict[int, float] = {}
    for workers in (int(word) for word in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as directory:
            seconds = measure(args.runs, workers, Path(directory))
        results[workers] = args.runs / seconds * 60
        base = results[min(results)]
        print(f"{workers} worker(s) x {PER_WORKER} slots: {args.runs} runs in {seconds:6.1f} s = "
              f"{results[workers]:7.1f} runs/min, {results[workers] / base:4.2f}x", flush=True)


if __name__ == "__main__":
    main()
