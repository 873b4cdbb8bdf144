"""Two schedulers on one PostgreSQL store share 10 runs; one dies mid-run and the other takes over.

The engines tick in turn in this process. After every tick no run is held by both, and every stage
attempt was started once: the only stages started twice are those the dead engine had running, each
as a new attempt by the survivor once the dead engine's lease ran out.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest
from scale_out_fixtures import postgres_schema, queue_runs, write_config, write_pipeline

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import load_config
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.relay import relay_all
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import open_store

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

RUNS = 10
STAGES = ("build", "functional", "integration")
LEASE = 1.0


def _started(work: Path) -> list[tuple[str, str, str]]:
    lines = work.read_text().splitlines() if work.exists() else []
    return [(run, stage, attempt) for run, stage, attempt in (line.split() for line in lines)]


def test_two_engines_share_runs_and_one_takes_over_from_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "starts.txt"
    monkeypatch.setenv("WORK_FILE", str(work))
    command = 'echo "$CI_PIPELINE_RUN_ID $CI_PIPELINE_STAGE $CI_PIPELINE_ATTEMPT" >> "$WORK_FILE"; sleep 0.3'
    pipeline = write_pipeline(tmp_path / "pipeline.toml", command, STAGES)
    with postgres_schema() as store_url:
        config_path = write_config(tmp_path, store_url=store_url, vhost="none", pipeline=pipeline, runs=RUNS)
        queue_runs(config_path, RUNS)
        config = load_config(config_path, environ={})
        store, bus = open_store(config.store.url), MemoryBus("memory://")
        engines = [Engine(config, store, bus, executor=LocalExecutor(2), lease_seconds=LEASE, max_active=4)
                   for _ in range(2)]
        try:
            _drive_both_then_kill_one(engines, work)
            relay_all(store, bus)
            with store.session() as session:
                runs = q.list_runs(session)
                attempts = {(str(run.id), row.stage): row.attempt
                            for run in runs for row in q.stages_of(session, run.id)}
        finally:
            for engine in engines:
                engine.shutdown()
            store.close()
    assert len(runs) == RUNS and all(run.status == "SUCCESS" for run in runs)
    starts = collections.Counter((run, stage) for run, stage, _ in _started(work))
    assert len(set(_started(work))) == len(_started(work)), "an attempt was started twice"
    retried = [key for key, count in starts.items() if count > 1]
    assert retried, "the dead engine had no stage running when it died"
    for key in starts:
        assert starts[key] == attempts[key], key  # every second start is recorded as a new attempt
    topics = [delivery.topic for delivery in bus.replay()]
    assert sum(topic.endswith(".ci.pipeline.complete") for topic in topics) == RUNS


def _drive_both_then_kill_one(engines: list[Engine], work: Path) -> None:
    first, second = engines
    deadline = time.monotonic() + 90
    while len(_started(work)) < 8:
        for engine in engines:
            engine.tick(wait=0.01)
        assert not first._held & second._held, "a run was held by both engines"
        assert time.monotonic() < deadline
    assert first._held and second._held, "both engines should drive some runs"
    assert first.executor.running(), "the engine to be killed should have stages running"
    first.executor.shutdown()  # its stage processes die with it, as after kill -9; its leases stay
    killed_at = time.monotonic()
    while not second.idle():
        second.tick(wait=0.02)
        assert time.monotonic() < deadline, "the surviving engine did not finish the runs"
    assert time.monotonic() - killed_at >= LEASE
