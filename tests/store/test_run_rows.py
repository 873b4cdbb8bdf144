"""Runs and stages as the engine, the API and the dashboard read them: typed states, cancel
sources, stage rows, run listings and the counts /metrics shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from ci_pipeline.stages import base as stage_base
from ci_pipeline.store import listing
from ci_pipeline.store import metrics as counts
from ci_pipeline.store import runs as q
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.results import record_test_results
from ci_pipeline.store.states import CancelSource, RunState, StageState, Status
from engine.helpers import add_run


def test_states_are_stored_as_their_old_strings_and_read_back_as_types(store: Store) -> None:
    run_id = add_run(store)
    with store.session() as session:
        run = q.get_run(session, run_id)
        run.state, run.status = RunState.COMPLETE, Status.FAILURE
    with store.session() as session:
        stored = session.execute(text("SELECT state, status FROM runs WHERE id = :id"), {"id": run_id}).one()
        run = q.get_run(session, run_id)
    assert tuple(stored) == ("complete", "FAILURE")
    assert run.state is RunState.COMPLETE and run.status is Status.FAILURE


def test_a_state_outside_its_type_is_refused_before_it_reaches_the_database(store: Store) -> None:
    run_id = add_run(store)
    with pytest.raises(StatementError), store.session() as session:
        q.get_run(session, run_id).state = "finished"  # type: ignore[assignment]
        q.flush(session)


def test_a_cancel_records_its_source_once_and_a_rerun_clears_it(store: Store) -> None:
    run_id = add_run(store)
    with store.session() as session:
        assert q.request_cancel(session, run_id, "Cancelled through the API.", CancelSource.API)
        assert q.request_cancel(session, run_id, "Cancelled from the command line.", CancelSource.CLI)
    with store.session() as session:
        run = q.get_run(session, run_id)
        assert (run.cancel_reason, run.cancel_source) == ("Cancelled through the API.", CancelSource.API)
        stored = session.execute(text("SELECT cancel_source FROM runs WHERE id = :id"), {"id": run_id})
        assert stored.scalar() == "api"


def test_stage_rows_are_created_in_order_with_the_first_queued_when_asked(store: Store) -> None:
    first, second = add_run(store, repo="a"), add_run(store, repo="b")
    with store.session() as session:
        run = q.get_run(session, first)
        rows = q.create_stage_rows(session, run, ["build", "functional"], first_queued=True)
        q.create_stage_rows(session, q.get_run(session, second), ["build"], first_queued=False)
        q.flush(session)
        assert all(row.id for row in rows)
    with store.session() as session:
        rows = q.stages_of(session, first)
        other = q.stages_of(session, second)
    assert [(r.stage, r.state, r.position) for r in rows] == [
        ("build", StageState.QUEUED, 0), ("functional", StageState.PENDING, 1)
    ]
    assert rows[0].queued_at is not None and rows[1].queued_at is None
    assert [r.state for r in other] == [StageState.PENDING]


def test_runs_are_found_by_id_and_build_and_taken_into_a_later_transaction(store: Store) -> None:
    run_id = add_run(store, branch="f27")
    with store.session() as session:
        run = q.find_run(session, run_id)
        assert run is not None
        rows = q.create_stage_rows(session, run, ["build"], first_queued=False)
        assert q.find_run(session, 10**6) is None
        assert q.find_run_by_build(session, "ci-pipeline-f27", run.build_id) == run_id
        assert q.find_run_by_build(session, "ci-pipeline-f26", run.build_id) is None
    with store.session() as session:
        q.request_cancel(session, run_id, "Stop.", CancelSource.CLI)
    with store.session() as session:
        # The kept objects join this transaction with the cancel reason the store holds now.
        q.reattach(session, run, rows, "Stop.")
        assert run.cancel_reason == "Stop."
        rows[0].state = StageState.SKIPPED
    with store.session() as session:
        fresh = q.find_run(session, run_id, fresh=True)
        assert fresh is not None and fresh.cancel_reason == "Stop."
        assert [row.state for row in q.stages_of(session, run_id)] == [StageState.SKIPPED]


def _finish(store: Store, run_id: int, status: Status, stage_status: Status) -> int:
    with store.session() as session:
        run = q.get_run(session, run_id)
        run.state, run.status = RunState.COMPLETE, status
        [row] = q.create_stage_rows(session, run, ["functional"], first_queued=False)
        row.state, row.status, row.attempt = StageState.COMPLETE, stage_status, 1
        row.started_at = utcnow() - timedelta(seconds=30)
        row.finished_at = row.started_at + timedelta(seconds=12)
        q.flush(session)
        return row.id


def test_run_listings_filter_by_each_value_and_match_none_for_an_unknown_state(store: Store) -> None:
    vim, kernel, queued = add_run(store, repo="vim"), add_run(store, repo="kernel"), add_run(store)
    stage_id = _finish(store, vim, Status.SUCCESS, Status.SUCCESS)
    _finish(store, kernel, Status.FAILURE, Status.FAILURE)
    with store.session() as session:
        record_test_results(session, stage_id, vim, [stage_base.TestCaseResult("test_a", "PASSED", 0.5)])

        def ids(**filters: str) -> list[int]:
            return [run.id for run in listing.newest_runs(session, limit=10, **filters)]  # type: ignore[arg-type]

        assert ids() == [queued, kernel, vim]
        assert ids(repo="vim") == [queued, vim]
        assert ids(state="complete") == [kernel, vim]
        assert ids(state="complete", status="FAILURE") == [kernel]
        assert ids(state="done") == [] and ids(status="success") == []
        assert [run.id for run in listing.newest_runs(session, offset=1, limit=1)] == [kernel]
        stages = listing.stages_of_runs(session, [kernel, vim, queued])
        assert [row.run_id for row in stages] == [vim, kernel]
        assert listing.stages_of_runs(session, []) == []
        [result] = listing.run_test_results(session, vim)
        assert (result.testcase, result.outcome) == ("ci-pipeline.functional.test_a", "PASSED")
        assert listing.run_test_results(session, kernel) == []


def test_metrics_count_runs_by_state_and_time_complete_stages(store: Store) -> None:
    vim, kernel = add_run(store, repo="vim"), add_run(store, repo="kernel")
    add_run(store)
    _finish(store, vim, Status.SUCCESS, Status.SUCCESS)
    _finish(store, kernel, Status.FAILURE, Status.FAILURE)
    with store.session() as session:
        assert counts.runs_by_state(session) == {
            (RunState.QUEUED, Status.SUCCESS): 1,
            (RunState.COMPLETE, Status.SUCCESS): 1,
            (RunState.COMPLETE, Status.FAILURE): 1,
        }
        durations = sorted(counts.complete_stage_durations(session))
    assert [(stage, status) for stage, status, _ in durations] == [
        ("functional", Status.FAILURE), ("functional", Status.SUCCESS)
    ]
    assert all(seconds == pytest.approx(12.0) for _, _, seconds in durations)
