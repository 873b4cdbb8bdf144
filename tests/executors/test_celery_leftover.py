"""The Celery executor stops the task that a dead scheduler's attempt left, when asked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.config import load_config
from ci_pipeline.executors.celery import CeleryExecutor
from ci_pipeline.executors.celery_app import TaskKeys, latest_key


@pytest.fixture
def revoked() -> list[str]:
    """The task ids the executor revoked."""
    return []


@pytest.fixture
def executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, revoked: list[str]) -> Iterator[CeleryExecutor]:
    """A Celery executor on this machine's Redis, under a vhost of its own; revokes are recorded."""
    vhost = f"test-{uuid.uuid4().hex}"
    config = load_config(None, environ={"CI_PIPELINE_STATE_DIR": str(tmp_path),
                                        "CI_PIPELINE_EXECUTOR_BROKER": f"amqp://guest:guest@127.0.0.1:5672/{vhost}"})
    executor = CeleryExecutor(config)
    monkeypatch.setattr(executor.app.control, "revoke", revoked.append)
    yield executor
    keys = list(executor.redis.scan_iter(f"ci-pipeline:{vhost}:*"))
    if keys:
        executor.redis.delete(*keys)
    executor.redis.close()


def test_the_latest_task_of_the_stage_is_killed_and_revoked(
    executor: CeleryExecutor, revoked: list[str]
) -> None:
    task = f"ci-pipeline:{executor.namespace}:3:compose:1"
    executor.redis.set(latest_key(executor.namespace, 3, "compose"), task)
    assert executor.stop_leftover(3, "compose", 1, 0)
    assert executor.redis.get(TaskKeys.of(executor.namespace, task).kill) == b"1"
    assert revoked == [task]


def test_a_stage_that_sent_no_task_has_nothing_to_stop(executor: CeleryExecutor, revoked: list[str]) -> None:
    assert not executor.stop_leftover(3, "compose", 1, 0)
    assert revoked == []
