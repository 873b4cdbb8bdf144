"""A scheduler that takes over the runs of a dead one stops the stage work that one left running."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.executors.local import LocalExecutor
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
