"""A Celery worker runs a stage attempt contained as the local executor does: nothing outlives it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ci_pipeline.executors.base import StageContext
from ci_pipeline.executors.celery_app import TaskKeys
from ci_pipeline.executors.celery_task import _execute
from ci_pipeline.messages.topics import Status

from .helpers import escaping_children, make_job, new_marker, none_left, wait_for_marked


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """The Redis server of this machine (the result backend a worker uses)."""
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    yield client
    client.close()


@pytest.fixture
def keys(client: redis.Redis) -> Iterator[TaskKeys]:
    """The keys of a task of its own, removed after the test."""
    keys = TaskKeys.of(f"test-{uuid.uuid4().hex}", "task")
    yield keys
    client.delete(keys.alive, keys.kill)


def _job(tmp_path: Path, command: str, **changes: object) -> StageContext:
    job = make_job(tmp_path, command, **changes)
    job.workdir.mkdir(parents=True)
    job.log_path.parent.mkdir(parents=True)
    return job


def test_nothing_outlives_a_successful_task(tmp_path: Path, client: redis.Redis, keys: TaskKeys) -> None:
    marker = new_marker()
    command = escaping_children(marker) + f"until [ $(pgrep -c -f '^{marker}') = 2 ]; do sleep 0.02; done"
    outcome = _execute(_job(tmp_path, command), client, keys)
    assert outcome.status == Status.SUCCESS, outcome.reason
    assert none_left(marker)


def test_nothing_outlives_a_task_that_timed_out(tmp_path: Path, client: redis.Redis, keys: TaskKeys) -> None:
    marker = new_marker()
    command = escaping_children(marker) + f"until [ $(pgrep -c -f '^{marker}') = 2 ]; do sleep 0.02; done; " \
        "touch started; sleep 1000"
    job = _job(tmp_path, command, timeout=3)
    outcome = _execute(job, client, keys)
    assert (job.workdir / "started").exists(), "the tree was not up before the timeout"
    assert outcome.status == Status.FAILURE and "did not finish within 3 s" in outcome.reason
    assert none_left(marker)


def test_nothing_outlives_a_task_the_scheduler_killed(
    tmp_path: Path, client: redis.Redis, keys: TaskKeys
) -> None:
    marker = new_marker()
    up: list[int] = []

    def kill_when_up() -> None:
        try:
            up.extend(wait_for_marked(marker, 2))
        finally:
            client.set(keys.kill, "1")  # the scheduler's request, as CeleryExecutor.kill makes it

    killer = threading.Thread(target=kill_when_up)
    killer.start()
    outcome = _execute(_job(tmp_path, escaping_children(marker) + "sleep 1000"), client, keys)
    killer.join()
    assert len(up) == 2
    assert (outcome.status, outcome.reason) == (Status.FAILURE, "The scheduler killed the stage.")
    assert none_left(marker)
