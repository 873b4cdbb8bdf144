"""Run and stage transitions: each state change and the message it causes land in one session."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ci_pipeline.config import Config
from ci_pipeline.engine import transitions as t
from ci_pipeline.messages.topics import Status
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import OutboxMessage, Run, StageRun

from .helpers import add_run, command_pipeline


def _outbox(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.execute(select(OutboxMessage.topic, OutboxMessage.payload).order_by(OutboxMessage.id))
        return [
            (topic.split(".ci.pipeline.", 1)[1], json.loads(payload)["msg"]["status"])
            for topic, payload in rows
        ]


def test_a_first_build_is_queued_already_and_the_rest_pending(store: Store) -> None:
    run_id = add_run(store)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        rows = t.initialize_stages(session, run, command_pipeline())
        assert [row.state for row in rows] == ["queued"] + ["pending"] * 6
    assert _outbox(store) == []  # the trigger announced the build's queued message


def test_stage_transitions_announce_queued_running_complete_and_outputs_join_the_fields(
    config: Config, store: Store
) -> None:
    run_id = add_run(store)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        build, functional = t.initialize_stages(session, run, command_pipeline())[:2]
        t.start_stage(session, config, run, build, "/l/build.1.log")
        t.start_stage(session, config, run, build, "/l/build.2.log")  # a retry: not announced again
        t.complete_stage(session, config, run, build, Status.SUCCESS, "", {"nvr": "vim-1-1.fc26"})
        t.queue_stage(session, config, run, functional)
        assert (build.attempt, build.state, build.executor_handle) == (2, "complete", None)
        assert run.fields["nvr"] == "vim-1-1.fc26"
    assert _outbox(store) == [
        ("package.running", "SUCCESS"),
        ("package.complete", "SUCCESS"),
        ("package.test.functional.queued", "SUCCESS"),
    ]


def test_an_abort_completes_the_active_stage_skips_the_rest_and_ends_the_run(
    config: Config, store: Store
) -> None:
    run_id = add_run(store)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        rows = t.initialize_stages(session, run, command_pipeline())
        t.start_stage(session, config, run, rows[0], "/l/build.1.log")
        t.abort_run(session, config, run, rows, "Cancelled by hand.")
        assert (run.state, run.status, run.reason) == ("complete", "ABORTED", "Cancelled by hand.")
        assert {row.state for row in rows[1:]} == {"skipped"}
        assert rows[1].reason == "The run was aborted: Cancelled by hand."
    assert _outbox(store)[-2:] == [("package.complete", "ABORTED"), ("complete", "ABORTED")]


def test_outputs_that_break_the_contract_are_named(config: Config, store: Store) -> None:
    run_id = add_run(store)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert t.outputs_violation(config, run, {"nvr": "vim-1-1.fc26"}) is None
        assert t.outputs_violation(config, run, {"compose_rev": "not a checksum"}) is not None


def test_a_reported_test_that_is_not_a_record_is_kept_as_an_error(store: Store, config: Config) -> None:
    run_id = add_run(store)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        build = t.initialize_stages(session, run, command_pipeline())[0]
        reported = ["oops", {"name": "unit", "outcome": "PASSED", "duration": "nan"}]
        assert t.record_tests(session, run, build, reported) == 2  # type: ignore[list-item]
        assert session.get(StageRun, build.id) is build


NOW = datetime(2026, 1, 1, tzinfo=UTC)


@given(interval=st.integers(0, 10_000), age=st.integers(0, 20_000))
def test_an_image_is_due_once_the_interval_has_passed(interval: int, age: int) -> None:
    last = NOW - timedelta(seconds=age)
    assert t.image_due(interval, last, NOW) is (interval == 0 or age >= interval)
    assert t.image_due(interval, None, NOW)
    assert t.image_due(interval, last.replace(tzinfo=None), NOW) is t.image_due(interval, last, NOW)
