"""The engine drives runs through command stages: messages, skips, failures, retries, cancels."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from ci_pipeline.bus.base import Bus, Delivery
from ci_pipeline.config import Config
from ci_pipeline.engine.control import cancel_run, rerun_from
from ci_pipeline.engine.core import CLAIM_INTERVAL, Engine
from ci_pipeline.engine.definition import BUILTIN_STAGES, PipelineDefinition
from ci_pipeline.errors import InfrastructureError, NotFound, UsageError
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.executors.memory import MemoryExecutor
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.messages.topics import STAGE_ORDER, Stage
from ci_pipeline.stage_contract import StageContext, StageFunction, StageResult
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Result, Run
from ci_pipeline.store.states import CancelSource
from ci_pipeline.trigger import Trigger

from .helpers import (
    ManualClock,
    add_run,
    command_pipeline,
    drive,
    expected_sequence,
    messages,
    run_messages,
    stage_config,
)

ALL = [str(stage) for stage in STAGE_ORDER]


def make_engine(config: Config, store: Store, bus: Bus, **kwargs: object) -> Engine:
    pipeline = kwargs.pop("pipeline", None) or command_pipeline()
    return Engine(config, store, bus, executor=LocalExecutor(2), pipeline=pipeline, **kwargs)  # type: ignore[arg-type]


def memory_engine(config: Config, store: Store, bus: Bus, script: dict[str, StageFunction] | None = None,
                  **kwargs: object) -> Engine:
    """An engine whose stages end at once in this process: for what needs only their outcomes."""
    pipeline = kwargs.pop("pipeline", None) or command_pipeline()
    executor = MemoryExecutor(2, script=script)
    return Engine(config, store, bus, executor=executor, pipeline=pipeline, **kwargs)  # type: ignore[arg-type]


def test_a_run_sends_every_stage_in_order_and_ends_success(config: Config, store: Store, bus: Bus) -> None:
    run_id = add_run(store)
    drive(memory_engine(config, store, bus), bus)
    assert run_messages(bus, "1") == expected_sequence(ALL)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None and (run.state, run.status) == ("complete", "SUCCESS")
        rows = q.stages_of(session, run_id)
    assert [(row.stage, row.state, row.status, row.attempt) for row in rows] == [
        (stage, "complete", "SUCCESS", 1) for stage in ALL
    ]


def test_outputs_reach_later_stages_and_messages(config: Config, store: Store, bus: Bus) -> None:
    pipeline = command_pipeline(
        {
            "build": 'echo "NVR=vim-1-1.fc26" >> "$CI_PIPELINE_OUTPUTS"; '
            'echo package_url=http://p >> "$CI_PIPELINE_OUTPUTS"',
            "functional": 'test "$NVR" = vim-1-1.fc26 && test "$REPO" = vim && test "$MESSAGE_CONTENT" = ""',
        }
    )
    add_run(store)
    drive(make_engine(config, store, bus, pipeline=pipeline), bus)
    bodies = dict((suffix, body) for suffix, body in messages(bus))
    assert "nvr" not in bodies["package.running"]
    assert bodies["package.test.functional.queued"]["nvr"] == "vim-1-1.fc26"
    assert bodies["package.complete"]["nvr"] == "vim-1-1.fc26"
    assert bodies["package.test.functional.complete"]["status"] == "SUCCESS"
    assert bodies["complete"]["package_url"] == "http://p"


def test_a_failure_stops_the_run_and_skips_the_rest(config: Config, store: Store, bus: Bus) -> None:
    run_id = add_run(store)
    drive(make_engine(config, store, bus, pipeline=command_pipeline({"compose": "echo broken; exit 3"})), bus)
    assert run_messages(bus, "1") == [
        *expected_sequence(["build", "functional"])[:-1],
        "compose.queued:SUCCESS",
        "compose.running:SUCCESS",
        "compose.complete:FAILURE",
        "complete:FAILURE",
    ]
    with store.session() as session:
        rows = {row.stage: row for row in q.stages_of(session, run_id)}
        run = session.get(Run, run_id)
        assert run is not None and run.status == "FAILURE" and "compose" in run.reason
    assert rows["compose"].reason == "The compose command exited with status 3."
    assert "broken" in Path(rows["compose"].log_path).read_text()
    assert rows["image"].state == "skipped" and rows["image"].reason == "The compose stage failed."


def test_invalid_output_key_fails_the_stage(config: Config, store: Store, bus: Bus) -> None:
    run_id = add_run(store)
    drive(
        make_engine(
            config, store, bus, pipeline=command_pipeline({"build": 'echo "9x=1" > "$CI_PIPELINE_OUTPUTS"'})
        ),
        bus,
    )
    with store.session() as session:
        build = q.stages_of(session, run_id)[0]
    assert build.status == "FAILURE" and "9x=1" in build.reason


def test_disabled_stage_is_skipped_and_the_pipeline_goes_on(config: Config, store: Store, bus: Bus) -> None:
    run_id = add_run(store)
    drive(memory_engine(config, store, bus, pipeline=command_pipeline(functional={"enabled": False})), bus)
    assert run_messages(bus, "1") == expected_sequence([s for s in ALL if s != "functional"])
    with store.session() as session:
        functional = q.stages_of(session, run_id)[1]
    assert functional.state == "skipped" and "disabled" in functional.reason


def test_image_not_due_skips_image_smoke_and_e2e(config: Config, store: Store, bus: Bus) -> None:
    pipeline = command_pipeline(image={"interval": 3600.0})
    add_run(store)
    drive(memory_engine(config, store, bus, pipeline=pipeline), bus)
    second = add_run(store)
    forced = add_run(store, repo="other", options={"force_image": "true"})
    drive(memory_engine(config, store, bus, pipeline=pipeline), bus)
    assert run_messages(bus, "2") == expected_sequence(["build", "functional", "compose", "integration"])
    assert run_messages(bus, "3") == expected_sequence(ALL)
    with store.session() as session:
        states = [(row.stage, row.state) for row in q.stages_of(session, second)][4:]
        assert q.get_run(session, forced).status == "SUCCESS"
    assert states == [("image", "skipped"), ("smoke", "skipped"), ("e2e", "skipped")]


def test_infrastructure_failures_are_retried_as_new_attempts(config: Config, store: Store, bus: Bus) -> None:
    def flaky_once(job: StageContext) -> StageResult:
        if job.attempt == 1:
            raise InfrastructureError("The build machine went away.")
        return StageResult()

    run_id = add_run(store)
    pipeline = command_pipeline(build={"retries": 1})
    drive(memory_engine(config, store, bus, {"build": flaky_once}, pipeline=pipeline), bus)
    assert run_messages(bus, "1") == expected_sequence(ALL)
    with store.session() as session:
        build = q.stages_of(session, run_id)[0]
    assert (build.attempt, build.status) == (2, "SUCCESS")
    assert build.log_path.endswith("build.2.log")


def test_timeout_kills_the_stage(config: Config, store: Store, bus: Bus) -> None:
    run_id = add_run(store)
    pipeline = command_pipeline({"build": "sleep 30"}, build={"timeout": 0.3})
    drive(make_engine(config, store, bus, pipeline=pipeline), bus)
    with store.session() as session:
        build = q.stages_of(session, run_id)[0]
    assert build.status == "FAILURE" and "did not finish within 0.3 s" in build.reason


def test_cancel_aborts_the_running_stage(config: Config, store: Store, bus: Bus) -> None:
    run_id = add_run(store)
    engine = make_engine(config, store, bus, pipeline=command_pipeline({"functional": "sleep 30"}))
    for _ in range(200):
        engine.tick(wait=0.02)
        with store.session() as session:
            if q.stages_of(session, run_id)[1].state == "running":
                assert q.request_cancel(session, run_id, "Cancelled by a person.", CancelSource.CLI)
                break
    drive(engine, bus)
    sequence = run_messages(bus, "1")
    assert sequence[-2:] == ["package.test.functional.complete:ABORTED", "complete:ABORTED"]
    assert not engine.executor.running()


def test_a_newer_change_supersedes_an_unbuilt_run(config: Config, store: Store, bus: Bus) -> None:
    older = add_run(store)
    newer = add_run(store)
    other_branch = add_run(store, branch="f27")
    drive(memory_engine(stage_config(config, supersede=True), store, bus), bus)
    with store.session() as session:
        run = q.get_run(session, older)
        assert run.status == "ABORTED" and f"Superseded by run {newer}" in run.reason
        assert q.get_run(session, newer).status == "SUCCESS"
        assert q.get_run(session, other_branch).status == "SUCCESS"
    assert run_messages(bus, "1") == ["package.complete:ABORTED", "complete:ABORTED"]


def test_a_second_engine_never_drives_a_held_run(config: Config, store: Store, bus: Bus) -> None:
    add_run(store)
    first = make_engine(config, store, bus, pipeline=command_pipeline({"build": "sleep 0.3"}))
    second = make_engine(config, store, bus)
    first.tick(wait=0)
    second.tick(wait=0)
    assert second.executor.running() == set() and first.executor.running() == {(1, "build")}
    drive(first, bus)
    assert run_messages(bus, "1") == expected_sequence(ALL)


def test_a_run_held_by_a_dead_scheduler_restarts_its_running_stage(
    config: Config, store: Store, bus: Bus
) -> None:
    run_id = add_run(store)
    first = make_engine(config, store, bus, pipeline=command_pipeline({"build": "sleep 30"}))
    first.tick(wait=0)
    first.executor.shutdown()  # the process is gone; the store still says the build runs
    with store.session() as session:
        session.get(Run, run_id).owner = "somewhere:1:dead"  # type: ignore[union-attr]
        session.get(Run, run_id).lease_until = None  # type: ignore[union-attr]
    drive(make_engine(config, store, bus), bus)
    assert run_messages(bus, "1") == expected_sequence(ALL)
    with store.session() as session:
        assert q.stages_of(session, run_id)[0].attempt == 2


@pytest.mark.parametrize("count", [12])
def test_many_runs_with_a_small_active_window(config: Config, store: Store, bus: Bus, count: int) -> None:
    for index in range(count):
        add_run(store, repo=f"pkg{index}")
    drive(memory_engine(config, store, bus, max_active=3), bus)
    for build_id in range(1, count + 1):
        assert run_messages(bus, str(build_id)) == expected_sequence(ALL)
    assert all(json.loads(d.payload)["topic"] == d.topic for d in bus.replay())


def test_a_newer_change_leaves_an_already_built_run_alone(
    config: Config, store: Store, bus: Bus, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    wait_for_release = f"while [ ! -e {release} ]; do sleep 0.02; done"
    older = add_run(store)
    engine = make_engine(stage_config(config, supersede=True), store, bus,
                         pipeline=command_pipeline({"functional": wait_for_release}))
    for _ in range(200):
        engine.tick(wait=0.02)
        with store.session() as session:
            if q.stages_of(session, older)[0].state == "complete":
                break
    newer = add_run(store)
    for _ in range(200):
        engine.tick(wait=0.02)
        with store.session() as session:
            if q.get_run(session, newer).state != "queued":
                break
    release.touch()
    drive(engine, bus)
    with store.session() as session:
        run = q.get_run(session, older)
        assert (run.status, run.cancel_reason) == ("SUCCESS", None)
        assert q.get_run(session, newer).status == "SUCCESS"
    assert run_messages(bus, "1") == expected_sequence(ALL)
    assert run_messages(bus, "2") == expected_sequence(ALL)


def test_cancel_of_a_running_run_records_the_reason_and_leaves_no_process(
    config: Config, store: Store, bus: Bus
) -> None:
    marker = "1000.8642"
    run_id = add_run(store)
    engine = make_engine(config, store, bus, pipeline=command_pipeline({"compose": f"sleep {marker} & wait"}))
    for _ in range(300):
        engine.tick(wait=0.02)
        if _pids(marker):
            break
    assert cancel_run(store, run_id)
    drive(engine, bus)
    assert run_messages(bus, "1") == [
        *expected_sequence(["build", "functional"])[:-1],
        "compose.queued:SUCCESS",
        "compose.running:SUCCESS",
        "compose.complete:ABORTED",
        "complete:ABORTED",
    ]
    with store.session() as session:
        run = q.get_run(session, run_id)
        rows = {row.stage: row for row in q.stages_of(session, run_id)}
    assert (run.state, run.status, run.reason) == ("complete", "ABORTED", "Cancelled from the command line.")
    assert rows["compose"].reason == "Cancelled from the command line."
    assert rows["image"].state == "skipped" and "aborted" in rows["image"].reason
    assert not engine.executor.running() and _pids(marker) == []
    assert not cancel_run(store, run_id)  # already complete


def test_rerun_from_a_stage_keeps_the_inputs_and_goes_on(config: Config, store: Store, bus: Bus) -> None:
    pipeline = command_pipeline(
        {
            "build": 'echo nvr=vim-1-1 >> "$CI_PIPELINE_OUTPUTS"',
            "compose": 'test "$NVR" = vim-1-1 && '
            'echo "marker=r$CI_PIPELINE_ATTEMPT" >> "$CI_PIPELINE_OUTPUTS"',
        }
    )
    run_id = add_run(store)
    drive(make_engine(config, store, bus, pipeline=pipeline), bus)
    with pytest.raises(NotFound, match="has no stage 'deploy'"):
        rerun_from(store, run_id, "deploy")
    rerun_from(store, run_id, "compose")
    with store.session() as session:
        run = q.get_run(session, run_id)
        assert run.state == "running" and "marker" not in run.fields and run.fields["nvr"] == "vim-1-1"
    with pytest.raises(UsageError, match="is still running"):
        rerun_from(store, run_id, "compose")
    drive(make_engine(config, store, bus, pipeline=pipeline), bus)
    rerun = run_messages(bus, "1")[len(expected_sequence(ALL)):]
    assert rerun == expected_sequence(ALL)[expected_sequence(ALL).index("compose.queued:SUCCESS"):]
    with store.session() as session:
        run = q.get_run(session, run_id)
        attempts = {row.stage: row.attempt for row in q.stages_of(session, run_id)}
    assert run.status == "SUCCESS" and run.fields["marker"] == "r2"
    assert attempts == {"build": 1, "functional": 1, "compose": 2, "integration": 2, "image": 2, "smoke": 2,
                        "e2e": 2}


def test_a_built_in_stage_stores_its_tests_with_its_completion(
    config: Config, store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1] / "executors"))
    monkeypatch.setitem(BUILTIN_STAGES, Stage.SMOKE, "fake_builtin_stage:run")
    pipeline = command_pipeline()
    pipeline = PipelineDefinition(tuple(
        replace(spec, command=None) if spec.name == Stage.SMOKE else spec for spec in pipeline.stages
    ))
    run_id = add_run(store)
    drive(make_engine(config, store, bus, pipeline=pipeline), bus)
    assert run_messages(bus, "1") == expected_sequence(ALL)
    with store.session() as session:
        rows = {row.stage: row for row in q.stages_of(session, run_id)}
        tests = q.stage_tests(session, list(rows.values()))
        query = select(Result.testcase, Result.outcome).where(Result.source == "test")
        results = session.execute(query).all()
    assert tests == {rows["smoke"].id: [
        {"name": "boots", "outcome": "PASSED", "duration": 0.25, "log": "it booted"},
        {"name": "ssh", "outcome": "FAILED", "duration": 1.5, "log": "connection refused"},
    ]}
    assert sorted(results) == [("ci-pipeline.smoke.boots", "PASSED"), ("ci-pipeline.smoke.ssh", "FAILED")]
    assert rows["smoke"].outputs == {"marker": "abc123"}


def _pids(marker: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"^sleep {marker}$"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def test_outputs_that_break_the_message_contract_fail_the_stage(
    config: Config, store: Store, bus: Bus
) -> None:
    def bad_rev(job: StageContext) -> StageResult:
        return StageResult(outputs={"compose_rev": "not-a-checksum"})

    run_id = add_run(store)
    drive(memory_engine(config, store, bus, {"compose": bad_rev}), bus)
    with store.session() as session:
        run = q.get_run(session, run_id)
        rows = {row.stage: row for row in q.stages_of(session, run_id)}
    assert run.status == "FAILURE" and "compose_rev" not in run.fields
    assert rows["compose"].status == "FAILURE" and "compose_rev" in rows["compose"].reason
    assert rows["integration"].state == "skipped"
    assert run_messages(bus, "1")[-2:] == ["compose.complete:FAILURE", "complete:FAILURE"]


def test_tick_counts_running_stages_as_work_and_waits_on_them(config: Config, store: Store, bus: Bus) -> None:
    clock = ManualClock()
    engine = make_engine(config, store, bus, pipeline=command_pipeline({"build": "sleep 0.4"}), clock=clock)
    assert engine.tick(wait=0) is False  # nothing queued, nothing running: the caller may sleep
    add_run(store)
    assert engine.tick(wait=0) is False  # an empty claim waits CLAIM_INTERVAL before the next look
    clock.advance(CLAIM_INTERVAL)
    assert engine.tick(wait=0) is True and engine.executor.running() == {(1, "build")}
    started = time.monotonic()
    while engine.executor.running() == {(1, "build")}:
        assert engine.tick(wait=1.0) is True
    # The build's end woke the wait at once (pidfd), well before the 1 s a tick may wait.
    assert time.monotonic() - started < 0.9
    drive(engine, bus)
    assert run_messages(bus, "1") == expected_sequence(ALL)


def test_a_failed_test_stage_still_stores_each_test(
    config: Config, store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1] / "executors"))
    monkeypatch.setitem(BUILTIN_STAGES, Stage.FUNCTIONAL, "fake_builtin_stage:fail_with_tests")
    pipeline = PipelineDefinition(tuple(
        replace(spec, command=None) if spec.name == Stage.FUNCTIONAL else spec
        for spec in command_pipeline().stages
    ))
    run_id = add_run(store)
    drive(make_engine(config, store, bus, pipeline=pipeline), bus)
    with store.session() as session:
        rows = {row.stage: row for row in q.stages_of(session, run_id)}
        tests = q.stage_tests(session, [rows["functional"]])
    assert rows["functional"].status == "FAILURE" and "ssh" in rows["functional"].reason
    assert [(test["name"], test["outcome"]) for test in tests[rows["functional"].id]] == [
        ("boots", "PASSED"), ("ssh", "FAILED")
    ]


def test_a_line_logged_while_driving_a_stage_says_its_run_and_stage(
    config: Config, store: Store, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = add_run(store)
    with caplog.at_level(logging.DEBUG, logger="ci_pipeline.engine"):
        drive(make_engine(config, store, bus, pipeline=command_pipeline()), bus)
    started = [record for record in caplog.records if str(record.msg).endswith("] starting attempt %d")]
    assert [record.stage for record in started] == ALL  # type: ignore[attr-defined]
    assert {record.run_id for record in started} == {run_id}  # type: ignore[attr-defined]
    assert started[0].getMessage() == f"[run={run_id} stage=build] starting attempt 1"


def test_a_run_queued_from_a_push_logs_the_push_s_msg_id(
    config: Config, store: Store, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    message = make_git_receive(repo="vim", rev="5" * 40, branch="f26")
    delivery = Delivery(position=1, topic=message["topic"], payload=encode(message), published_at=0.0)
    assert Trigger(config, store).handle_deliveries([delivery]) == (1, 0)
    with caplog.at_level(logging.DEBUG, logger="ci_pipeline.engine"):
        drive(make_engine(config, store, bus, pipeline=command_pipeline()), bus)
    started = [record for record in caplog.records if str(record.msg).endswith("] starting attempt %d")]
    assert started and {record.msg_id for record in started} == {message["msg_id"]}  # type: ignore[attr-defined]
    assert f"msg={message['msg_id']}] starting attempt 1" in started[0].getMessage()
