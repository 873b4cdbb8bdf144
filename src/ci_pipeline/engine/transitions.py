"""State changes of a run and its stages, each adding the message it causes to the outbox.

Every function here works inside the caller's session, so the state change and its outbox row
commit together. Stage states: pending > queued > running > complete, or skipped (no messages).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.engine.definition import PipelineDefinition
from ci_pipeline.errors import SchemaViolation
from ci_pipeline.gating.updates import announce_stage_decisions
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages import fedora_ci
from ci_pipeline.messages.builders import build_message, encode_message
from ci_pipeline.messages.topics import (
    PIPELINE_COMPLETE_SUFFIX,
    Stage,
    State,
    Status,
    pipeline_topic,
    stage_suffix,
)
from ci_pipeline.run_options import EXISTING_BUILD
from ci_pipeline.stage_contract import TestCaseResult
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.outbox import add_message
from ci_pipeline.store.results import record_test_results
from ci_pipeline.store.rows import Run, StageRun
from ci_pipeline.store.runs import create_stage_rows, flush
from ci_pipeline.store.states import FINAL_STAGE_STATES as FINAL_STAGE_STATES
from ci_pipeline.store.states import RunState, StageState

log = get_logger(__name__)


def announce(session: Transaction, config: Config, run: Run, suffix: str, status: str,
             extra: Mapping[str, str] | None = None) -> None:
    """Put the message ``suffix`` of ``run`` in the outbox, with the run's fields and ``status``."""
    topic = pipeline_topic(config.bus.topic_prefix, config.bus.environment, suffix)
    fields = {**run.fields, **(extra or {}), "status": status}
    payload = encode_message(topic, fields)
    add_message(session, run.id, topic, payload)


def announce_test_stage(
    session: Transaction, config: Config, run: Run, report: fedora_ci.StageReport
) -> None:
    """Put a test stage's CI messages 1.x message in the outbox, right after its ci-pipeline one,
    when the configuration asks for that format.

    A run that lacks what the format requires (a stage replaced by a command that gives no ``nvr``)
    sends none: the message would break the format, and the ci-pipeline one still tells the state.
    """
    if not fedora_ci.enabled(config) or report.stage not in fedora_ci.TEST_STAGES:
        return
    try:
        topic, payload = fedora_ci.encode_stage_message(config, report)
    except SchemaViolation as exc:
        log.warning("run %d %s: no CI messages 1.x message, the run lacks what it needs: %s",
                    run.id, report.stage, exc)
        return
    add_message(session, run.id, topic, payload)


def _xunit_url(config: Config, run: Run, stage: str) -> str:
    """The URL of the stage's JUnit report when its artifacts hold one."""
    relative = f"runs/{run.id}/{stage}/results.xml"
    return f"{config.artifacts_base_url}/{relative}" if (config.artifact_root / relative).is_file() else ""


def initialize_stages(session: Transaction, run: Run, pipeline: PipelineDefinition) -> list[StageRun]:
    """Create a run's stage rows; a first build stage is already queued (the trigger announced it),
    or skipped when the run tests an existing build."""
    now = utcnow()
    first = pipeline.stages[0] if pipeline.stages else None
    existing = run.options.get(EXISTING_BUILD) == "true"
    already_queued = first is not None and first.name == Stage.BUILD and first.enabled and not existing
    rows = create_stage_rows(session, run, [str(spec.name) for spec in pipeline.stages], already_queued)
    if existing and rows and rows[0].stage == Stage.BUILD:
        skip_stage(rows[0], f"The build {run.fields.get('nvr', '')} exists already: its RPMs are at "
                            f"{run.fields.get('build_repo_url', '')}.")
    run.state = RunState.RUNNING
    run.started_at = run.started_at or now
    return rows


def queue_stage(session: Transaction, config: Config, run: Run, row: StageRun) -> None:
    """pending > queued, announcing it."""
    row.state = StageState.QUEUED
    row.queued_at = utcnow()
    announce(session, config, run, stage_suffix(Stage(row.stage), State.QUEUED), Status.SUCCESS)
    report = fedora_ci.StageReport(run.id, Stage(row.stage), State.QUEUED, run.fields)
    announce_test_stage(session, config, run, report)


def skip_stage(row: StageRun, reason: str) -> None:
    """A stage that does not run: recorded with the reason, and no messages."""
    row.state = StageState.SKIPPED
    row.reason = reason
    row.finished_at = utcnow()


def start_stage(session: Transaction, config: Config, run: Run, row: StageRun, log_path: str) -> None:
    """queued > running (announced), or a new attempt of a running stage (not announced again)."""
    announce_it = row.state == StageState.QUEUED
    row.state = StageState.RUNNING
    row.attempt += 1
    row.started_at = utcnow()
    row.log_path = log_path
    if announce_it:
        announce(session, config, run, stage_suffix(Stage(row.stage), State.RUNNING), Status.SUCCESS)
        report = fedora_ci.StageReport(run.id, Stage(row.stage), State.RUNNING, run.fields)
        announce_test_stage(session, config, run, report)


def outputs_violation(config: Config, run: Run, outputs: Mapping[str, str]) -> str | None:
    """Why a stage's outputs would break the message contract, or None when they fit.

    Outputs become fields of every later message, so they are checked against the pipeline-end
    message, which carries every field.
    """
    topic = pipeline_topic(config.bus.topic_prefix, config.bus.environment, PIPELINE_COMPLETE_SUFFIX)
    try:
        build_message(topic, {**run.fields, **outputs, "status": Status.SUCCESS})
    except SchemaViolation as exc:
        return str(exc)
    return None


def complete_stage(session: Transaction, config: Config, run: Run, row: StageRun, status: Status,
                   reason: str, outputs: Mapping[str, str], tests: Sequence[Mapping[str, Any]] = (),
                   infrastructure: bool = False) -> None:
    """running (or queued) > complete with ``status``; SUCCESS outputs join the run's fields.

    ``tests`` and ``infrastructure`` (the machinery failed) decide the CI messages 1.x verdict.
    """
    row.state = StageState.COMPLETE
    row.status = status
    row.reason = reason
    row.outputs = dict(outputs)
    row.finished_at = utcnow()
    row.executor_handle = None
    if status == Status.SUCCESS and outputs:
        run.fields = {**run.fields, **outputs}
    announce(session, config, run, stage_suffix(Stage(row.stage), State.COMPLETE), status)
    report = fedora_ci.StageReport(
        run.id, Stage(row.stage), State.COMPLETE, run.fields, status, reason, tests, infrastructure,
        _xunit_url(config, run, row.stage),
    )
    announce_test_stage(session, config, run, report)


def record_tests(session: Transaction, run: Run, row: StageRun, tests: Sequence[Mapping[str, Any]]) -> int:
    """Store the tests a completed attempt reported (the stage worker's TestCaseResult dicts)."""
    if not tests:
        return 0
    cases = [_test_case(test) for test in tests]
    flush(session)  # the stage row's id and attempt must be in the store for the results to refer to
    return record_test_results(session, row.id, run.id, cases)


def record_results(session: Transaction, config: Config, run: Run, row: StageRun,
                   tests: Sequence[Mapping[str, Any]]) -> int:
    """Store a completed attempt's tests, then announce the gating decisions the stage's end changes."""
    count = record_tests(session, run, row, tests)
    announce_stage_decisions(session, config, run, row)
    return count


def _test_case(test: Mapping[str, Any] | object) -> TestCaseResult:
    """A reported test as a TestCaseResult; what a stage got wrong in it becomes visible, not fatal."""
    if not isinstance(test, Mapping):
        log = f"The stage reported a {type(test).__name__} instead of a test record."
        return TestCaseResult(name=str(test), outcome="ERROR", log=log)
    try:
        duration = float(test.get("duration", 0.0) or 0.0)
    except (TypeError, ValueError):
        duration = 0.0
    return TestCaseResult(
        name=str(test.get("name", "")),
        outcome=str(test.get("outcome", "ERROR")),
        duration=duration if math.isfinite(duration) else 0.0,
        log=str(test.get("log", "")),
    )


def finish_run(session: Transaction, config: Config, run: Run, status: Status, reason: str = "") -> None:
    """The run is complete: the pipeline-end message carries the last known fields and ``status``."""
    run.state = RunState.COMPLETE
    run.status = status
    run.reason = reason
    run.finished_at = utcnow()
    run.lease_until = None
    announce(session, config, run, PIPELINE_COMPLETE_SUFFIX, status)


def skip_rest(rows: Sequence[StageRun], reason: str) -> None:
    """Record every stage that has not started as skipped with ``reason``."""
    for row in rows:
        if row.state == StageState.PENDING:
            skip_stage(row, reason)


def abort_run(session: Transaction, config: Config, run: Run, rows: Sequence[StageRun], reason: str) -> None:
    """ABORTED: the active stage's complete message, later stages skipped, the pipeline-end message."""
    for row in rows:
        if row.state in (StageState.QUEUED, StageState.RUNNING):
            complete_stage(session, config, run, row, Status.ABORTED, reason, {})
    skip_rest(rows, f"The run was aborted: {reason}")
    run.status = Status.ABORTED
    finish_run(session, config, run, Status.ABORTED, reason)


def image_due(interval: float, last: datetime | None, now: datetime) -> bool:
    """Whether an image is due: never made, interval 0, or older than ``interval`` seconds."""
    if interval <= 0 or last is None:
        return True
    if last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    return (now - last).total_seconds() >= interval
