"""Two workers, two schedulers, one PostgreSQL store: kill -9 a worker and a scheduler, restart RabbitMQ.

20 runs of a four-stage pipeline of command stages. Each stage appends ``start`` and ``done`` lines
(run, stage, attempt) to one file. Afterwards every run has succeeded with its exact message
sequence, every stage's work was done, and no attempt's work was done twice: a stage whose worker
died shows a second delivery in its log, and any second run of a stage is a new attempt.
"""

from __future__ import annotations

import collections
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scale_out_fixtures import (
    ensure_rabbitmq_up,
    postgres_schema,
    queue_runs,
    rabbit_vhost,
    restart_rabbitmq,
    start_serve,
    start_worker,
    stop,
    write_config,
    write_pipeline,
)

from ci_pipeline.bus import open_bus
from ci_pipeline.config import load_config
from ci_pipeline.messages.topics import TOPIC_WORDS
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import open_store

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

RUNS = 20
STAGES = ("build", "functional", "integration", "e2e")
WHAT = "$CI_PIPELINE_RUN_ID $CI_PIPELINE_STAGE $CI_PIPELINE_ATTEMPT"
COMMAND = f'echo "start {WHAT}" >> "$WORK_FILE"; sleep 0.6; echo "done {WHAT}" >> "$WORK_FILE"'


@pytest.fixture
def rabbitmq_restored() -> Iterator[None]:
    """RabbitMQ is up again when the test ends, whatever happened."""
    try:
        yield
    finally:
        ensure_rabbitmq_up()


def _expected() -> list[str]:
    sequence = ["package.queued:SUCCESS"]
    for stage in STAGES:
        states = ("running", "complete") if stage == "build" else ("queued", "running", "complete")
        sequence += [f"{TOPIC_WORDS[stage]}.{state}:SUCCESS" for state in states]
    return [*sequence, "complete:SUCCESS"]


def _work_lines(path: Path, kind: str) -> list[tuple[int, str, int]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [(int(r), s, int(a)) for k, r, s, a in (line.split() for line in lines) if k == kind]


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _messages(config_path: Path) -> dict[str, list[str]]:
    config = load_config(config_path, environ={})
    bus = open_bus(config.bus.url)
    per_run: dict[str, list[str]] = collections.defaultdict(list)
    seen: set[str] = set()
    for delivery in bus.replay():
        envelope = json.loads(delivery.payload)
        if envelope["msg_id"] in seen:
            continue  # an exact repeat of the at-least-once relay
        seen.add(envelope["msg_id"])
        suffix = delivery.topic.split(".ci.pipeline.", 1)[1]
        per_run[envelope["msg"]["build_id"]].append(f"{suffix}:{envelope['msg']['status']}")
    bus.close()
    return per_run


def test_workers_schedulers_and_broker_die_and_nothing_is_lost_or_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rabbitmq_restored: None
) -> None:
    work = tmp_path / "work.txt"
    monkeypatch.setenv("WORK_FILE", str(work))
    pipeline = write_pipeline(tmp_path / "pipeline.toml", COMMAND, STAGES)
    with rabbit_vhost() as vhost, postgres_schema() as store_url:
        config_path = write_config(tmp_path, store_url=store_url, vhost=vhost, pipeline=pipeline, runs=RUNS,
                                   in_flight=6)
        queue_runs(config_path, RUNS)
        workers = [start_worker(config_path, f"w{n}@test", tmp_path / f"w{n}.log", 3) for n in (1, 2)]
        serves = [start_serve(config_path, tmp_path / f"s{n}.log") for n in (1, 2)]
        try:
            _wait_for(lambda: len(_work_lines(work, "start")) >= 12, 60, "stages to start")
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            _wait_for(lambda: len(_work_lines(work, "done")) >= 30, 60, "more stages to end")
            serves[0].send_signal(signal.SIGKILL)
            serves[0].wait()  # reaped, so the other scheduler sees its owner is dead and takes over at once
            restart_rabbitmq()
            assert serves[1].wait(timeout=150) == 0, (tmp_path / "s2.log").read_text()
        finally:
            for process in [*workers, *serves]:
                stop(process)
        _check(config_path, work)


def _check(config_path: Path, work: Path) -> None:
    per_run = _messages(config_path)
    assert len(per_run) == RUNS
    for build_id, sequence in per_run.items():
        assert sequence == _expected(), build_id

    done = collections.Counter(_work_lines(work, "done"))
    assert max(done.values()) == 1, [key for key, count in done.items() if count > 1]
    config = load_config(config_path, environ={})
    store = open_store(config.store.url)
    with store.session() as session:
        runs = q.list_runs(session)
        rows = {(run.id, row.stage): row for run in runs for row in q.stages_of(session, run.id)}
    store.close()
    assert len(runs) == RUNS and all(run.status == "SUCCESS" for run in runs)
    done_stages = collections.Counter((run, stage) for run, stage, _attempt in done)
    redelivered = 0
    for run in runs:
        for stage in STAGES:
            row = rows[(run.id, stage)]
            assert done_stages[(run.id, stage)] >= 1, f"run {run.id} {stage}: its work was lost"
            # Doing a stage's work again is allowed only as a new attempt.
            assert done_stages[(run.id, stage)] <= row.attempt, (run.id, stage)
            log_text = Path(row.log_path).read_text()
            assert f"attempt {row.attempt} of {stage}" in log_text
            redelivered += "delivery 2" in log_text
    assert redelivered >= 1, "the killed worker's stage was not seen running again"
