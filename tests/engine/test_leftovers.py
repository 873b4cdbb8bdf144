"""A scheduler that takes over the runs of a dead one stops the stage work that one left running."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.executors.memory import MemoryExecutor
from ci_pipeline.stage_contract import StageContext
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run
from ci_pipeline.store.states import CancelSource
from executors.helpers import escaping_children, marked, new_marker, none_left, wait_for_marked

from .helpers import add_run, command_pipeline, drive


def _left_behind(config: Config, store: Store, bus: Bus, marker: str) -> tuple[int, list[Any]]:
    """A run whose build a scheduler started and then lost while it ran: the run and the lost attempts."""
    run_id = add_run(store)
    pipeline = command_pipeline({"build": escaping_children(marker) + "sleep 1000"})
    dead = Engine(config, store, bus, executor=LocalExecutor(1), pipeline=pipeline)
    dead.tick(wait=0)
    wait_for_marked(marker, 2)
    # As if its scheduler had died without taking its attempts along (another machine, say).
    lost = list(dead.executor._running.values())  # type: ignore[attr-defined]
    dead.executor._running.clear()  # type: ignore[attr-defined]
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.owner, run.lease_until = "somewhere:1:dead", None
    return run_id, lost


@pytest.mark.parametrize("cancelled", [False, True], ids=["restarted", "cancelled-while-down"])
def test_the_attempt_a_dead_scheduler_left_is_stopped(
    config: Config, store: Store, bus: Bus, cancelled: bool
) -> None:
    marker = new_marker()
    run_id, lost = _left_behind(config, store, bus, marker)
    if cancelled:
        with store.session() as session:
            assert q.request_cancel(session, run_id, "Cancelled while no scheduler ran.", CancelSource.CLI)
    engine = Engine(config, store, bus, executor=LocalExecutor(1), pipeline=command_pipeline())
    try:
        drive(engine, bus)
        assert none_left(marker)
    finally:
        engine.shutdown()
        for entry in lost:  # reap what was this process's child, and kill it should the test have failed
            entry.attempt.stop()
            entry.attempt.release()
            os.close(entry.pidfd)
        assert marked(marker) == []
    with store.session() as session:
        run = q.get_run(session, run_id)
    assert run.status == ("ABORTED" if cancelled else "SUCCESS")


class HandleExecutor(MemoryExecutor):
    """A memory executor whose attempts have handles of its own form, and that records leftover stops."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(1, **kwargs)
        self.stopped: list[tuple[int, str, int, str]] = []

    def start(self, job: StageContext) -> str:
        super().start(job)
        return f"opaque/{job.run_id}/{job.stage}#{job.attempt}"

    def stop_leftover(self, run_id: int, stage: str, attempt: int, handle: str) -> bool:
        self.stopped.append((run_id, stage, attempt, handle))
        return True


def test_the_engine_stores_an_executor_handle_untouched_and_hands_it_back(
    config: Config, store: Store, bus: Bus
) -> None:
    run_id = add_run(store)
    dead = Engine(config, store, bus, executor=HandleExecutor(hold={"build"}), pipeline=command_pipeline())
    dead.tick(wait=0)
    with store.session() as session:
        build = q.stages_of(session, run_id)[0]
        assert (build.state, build.executor_handle) == ("running", "opaque/1/build#1")
        run = session.get(Run, run_id)
        assert run is not None
        run.owner, run.lease_until = "somewhere:1:dead", None
    executor = HandleExecutor()
    drive(Engine(config, store, bus, executor=executor, pipeline=command_pipeline()), bus)
    assert executor.stopped == [(run_id, "build", 1, "opaque/1/build#1")]
    with store.session() as session:
        rows = q.stages_of(session, run_id)
    assert [(row.attempt, row.status, row.executor_handle) for row in rows[:2]] == [
        (2, "SUCCESS", None), (1, "SUCCESS", None)
    ]
