"""Queries on runs: claims with leases, dead owners, cancels, supersede candidates, locks, tests shown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ci_pipeline.errors import NotFound
from ci_pipeline.stages import base as stage_base
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run, StageRun, utcnow
from ci_pipeline.store.results import record_test_results
from ci_pipeline.store.states import CancelSource

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from helpers import add_run


def add_stage(store: Store, run_id: int, stage: str, state: str, status: str | None = None,
              attempt: int = 1, position: int = 0) -> int:
    with store.session() as session:
        row = StageRun(run_id=run_id, position=position, stage=stage, state=state, status=status,
                       attempt=attempt, reason="", outputs={}, log_path="",
                       finished_at=utcnow() if state == "complete" else None)
        session.add(row)
        session.flush()
        return row.id


def claim(store: Store, owner: str, limit: int = 10, lease: float = 30.0) -> list[int]:
    with store.session() as session:
        return q.claim_runs(session, owner, utcnow(), utcnow() + timedelta(seconds=lease), limit)


def test_claims_take_the_oldest_free_runs_and_never_a_held_one(store: Store) -> None:
    first, second, third = add_run(store, repo="a"), add_run(store, repo="b"), add_run(store, repo="c")
    assert claim(store, "me", limit=2) == [first, second]
    assert claim(store, "you") == [third]
    assert claim(store, "you") == []
    with store.session() as session:
        assert q.renew_leases(session, "me", utcnow() + timedelta(seconds=30)) == {first, second}
        assert q.hold_lease(session, first, "me", utcnow() + timedelta(seconds=30))
        assert not q.hold_lease(session, first, "you", utcnow() + timedelta(seconds=30))


def test_an_expired_lease_is_claimed_again_and_a_complete_run_never(store: Store) -> None:
    run_id = add_run(store)
    done = add_run(store, repo="done")
    with store.session() as session:
        session.get(Run, done).state = "complete"  # type: ignore[union-attr]
    assert claim(store, "me", lease=-1.0) == [run_id]
    assert claim(store, "you") == [run_id]
    with store.session() as session:
        assert q.get_run(session, run_id).owner == "you"
        assert q.any_unfinished(session) is not False


def test_the_lease_renewal_reads_a_cancel_request(store: Store) -> None:
    run_id = add_run(store)
    claim(store, "me")
    until = utcnow() + timedelta(seconds=30)
    with store.session() as session:
        assert q.hold_lease_reading_cancel(session, run_id, "me", until) == (None,)
        assert q.request_cancel(session, run_id, "Stop it.", CancelSource.CLI)
    with store.session() as session:
        assert q.hold_lease_reading_cancel(session, run_id, "me", until) == ("Stop it.",)
        assert q.hold_lease_reading_cancel(session, run_id, "you", until) is None
        assert q.cancel_requested(session, "me") == [run_id]
        assert q.request_cancel(session, run_id, "Again.", CancelSource.CLI)  # the first reason stays
        assert q.get_run(session, run_id).cancel_reason == "Stop it."
        q.get_run(session, run_id).state = "complete"
    with store.session() as session:
        assert not q.request_cancel(session, run_id, "Too late.", CancelSource.CLI)
        with pytest.raises(NotFound, match=r"^There is no run 999; see ci-pipeline runs\.$"):
            q.get_run(session, 999)


def test_only_dead_owners_on_this_host_are_released(store: Store) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    runs = {owner: add_run(store, repo=owner.replace(":", "-"))
            for owner in (f"{host}:{gone.pid}:x", f"{host}:{os.getpid()}:y", f"elsewhere:{gone.pid}:z")}
    with store.session() as session:
        for owner, run_id in runs.items():
            run = session.get(Run, run_id)
            assert run is not None
            run.owner, run.lease_until = owner, utcnow() + timedelta(seconds=30)
    with store.session() as session:
        assert q.release_dead_owners(session, "me") == 1
    with store.session() as session:
        owners = {owner: q.get_run(session, run_id).owner for owner, run_id in runs.items()}
    assert owners == {f"{host}:{gone.pid}:x": None, f"{host}:{os.getpid()}:y": f"{host}:{os.getpid()}:y",
                      f"elsewhere:{gone.pid}:z": f"elsewhere:{gone.pid}:z"}


def test_older_unbuilt_runs_are_those_a_newer_change_supersedes(store: Store) -> None:
    unbuilt = add_run(store)
    building = add_run(store)
    add_stage(store, building, "build", "running")
    built = add_run(store)
    add_stage(store, built, "build", "complete", "SUCCESS")
    other_branch = add_run(store, branch="f27")
    newer = add_run(store)
    with store.session() as session:
        older = [run.id for run in q.older_unbuilt_runs(session, q.get_run(session, newer))]
    assert sorted(older) == [unbuilt, building]
    assert other_branch not in older and built not in older


def test_branch_locks_and_the_last_image(store: Store) -> None:
    first, second, other = add_run(store), add_run(store, repo="emacs"), add_run(store, branch="f27")
    add_stage(store, first, "compose", "running")
    image = add_stage(store, other, "image", "complete", "SUCCESS")
    with store.session() as session:
        assert q.branch_stage_busy(session, "f26", "compose", second)
        assert not q.branch_stage_busy(session, "f26", "compose", first)  # its own stage
        assert not q.branch_stage_busy(session, "f26", "image", second)
        assert q.last_image_finished(session, "f26") is None
        finished = session.get(StageRun, image).finished_at  # type: ignore[union-attr]
        assert q.last_image_finished(session, "f27") == finished


def test_stage_tests_are_those_of_the_latest_attempt(store: Store) -> None:
    run_id = add_run(store)
    smoke = add_stage(store, run_id, "smoke", "complete", "SUCCESS", attempt=1)
    with store.session() as session:
        record_test_results(session, smoke, run_id, [stage_base.TestCaseResult("boots", "FAILED", 2.0, "no")])
        session.get(StageRun, smoke).attempt = 2  # type: ignore[union-attr]
    with store.session() as session:
        passed = stage_base.TestCaseResult("boots", "PASSED", 1.0, "yes")
        record_test_results(session, smoke, run_id, [passed])
    with store.session() as session:
        rows = q.stages_of(session, run_id)
        assert q.stage_tests(session, rows) == {
            smoke: [{"name": "boots", "outcome": "PASSED", "duration": 1.0, "log": "yes"}]
        }
        assert q.stage_tests(session, []) == {}
