"""The results store's tables, as SQLAlchemy 2 models.

::

    decisions      every push the trigger saw: queued or ignore, and why
    runs           one pipeline run per queued change (repo, rev, namespace; branch; CI_NAME; build_id)
    stage_runs     one row per stage of a run: state, status, attempt, times, reason, outputs, log
    build_ids      the build_id sequence of each CI_NAME
    outbox         every message a state change causes, committed with it; the relay sends it
    dead_letters   every inbound message that was rejected, with the reason
    waivers        WaiverDB-compatible waivers: a test case's result waived (or not) for a subject
    decision_answers  the last gating answer published per subject, decision context and product version
    machine_leases which stage attempt holds which machine of which provisioner, and until when

The schema itself is owned by the Alembic migrations in ``store/migrations``; these models must
match them. Every text and JSON column has a type of ``store/safe_types.py``, so any value a writer
hands in is stored on SQLite and PostgreSQL alike (NUL replaced, too long shortened).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ci_pipeline.store.clock import utcnow as utcnow  # the models' default, named here too
from ci_pipeline.store.safe_types import SafeJSON, SafeString, SafeText
from ci_pipeline.store.states import (
    CancelSource,
    DecisionKind,
    IgnoreCause,
    LeaseState,
    RunState,
    StageState,
    Status,
    state_column_type,
)

#: The length of the state and status columns.
STATE_LENGTH = 16
CANCEL_SOURCE_LENGTH = 8

#: How much of a rejected message the store keeps.
DEAD_LETTER_KEPT_BYTES = 64 * 1024


#: The longest text kept in a column that an index shares with a String(255).
INDEXED_TEXT_LENGTH = 400

# SQLite only makes an INTEGER PRIMARY KEY an alias of the rowid (and so auto-incrementing).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of the store's models."""

    type_annotation_map = {dict[str, Any]: SafeJSON(), datetime: DateTime(timezone=True)}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements without the ORM's per-row bookkeeping."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Decision(Base):
    """What the trigger decided about one push, and why."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    msg_id: Mapped[str] = mapped_column(SafeString(100), default="")
    repo: Mapped[str] = mapped_column(SafeString(255))
    rev: Mapped[str] = mapped_column(SafeString(40))
    namespace: Mapped[str] = mapped_column(SafeString(100))
    branch: Mapped[str] = mapped_column(SafeString(100))
    decision: Mapped[DecisionKind] = mapped_column(state_column_type(DecisionKind, STATE_LENGTH))
    reason: Mapped[str] = mapped_column(SafeText())
    #: Why an ignored push was ignored; None for a queued one.
    ignore_cause: Mapped[IgnoreCause | None] = mapped_column(
        state_column_type(IgnoreCause, STATE_LENGTH), default=None
    )
    build_id: Mapped[int] = mapped_column(Integer)  # the trigger's own build_id
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)
    forced: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_decisions_change", "repo", "rev", "namespace"),
        Index("ix_decisions_repo_id", "repo", "id"),
    )


class Run(Base):
    """One pipeline run of one change."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    repo: Mapped[str] = mapped_column(SafeString(255))
    rev: Mapped[str] = mapped_column(SafeString(40))
    namespace: Mapped[str] = mapped_column(SafeString(100))
    branch: Mapped[str] = mapped_column(SafeString(100))
    #: 0 for the change's first run; a forced re-run of the same change takes the next number.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    ci_name: Mapped[str] = mapped_column(SafeString(100))
    build_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[RunState] = mapped_column(
        state_column_type(RunState, STATE_LENGTH), default=RunState.QUEUED
    )
    status: Mapped[Status] = mapped_column(state_column_type(Status, STATE_LENGTH), default=Status.SUCCESS)
    reason: Mapped[str] = mapped_column(SafeText(), default="")
    #: The message fields known so far (repo, rev, ..., nvr, package_url, compose_rev, ...).
    fields: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict)
    #: Per-run options such as force_image.
    options: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Which scheduler drives the run, and until when (a lease; another takes over after it).
    owner: Mapped[str | None] = mapped_column(SafeString(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    #: Set by a cancel or a supersede; the scheduler driving the run aborts it with this reason.
    cancel_reason: Mapped[str | None] = mapped_column(SafeText(), default=None)
    #: Where that cancel came from; None for a supersede and on rows from before sources were kept.
    cancel_source: Mapped[CancelSource | None] = mapped_column(
        state_column_type(CancelSource, CANCEL_SOURCE_LENGTH), default=None
    )

    __table_args__ = (
        Index("ux_runs_change", "repo", "rev", "namespace", "generation", unique=True),
        Index("ux_runs_build", "ci_name", "build_id", unique=True),
        Index("ix_runs_state", "state"),
        Index("ix_runs_repo_branch", "repo", "branch"),
        Index("ix_runs_rev", "rev"),
        Index("ix_runs_repo_id", "repo", "id"),
    )


class StageRun(Base):
    """One stage of one run."""

    __tablename__ = "stage_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    position: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(SafeString(32))
    state: Mapped[StageState] = mapped_column(
        state_column_type(StageState, STATE_LENGTH), default=StageState.PENDING
    )
    status: Mapped[Status | None] = mapped_column(state_column_type(Status, STATE_LENGTH), default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(SafeText(), default="")
    outputs: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict)
    log_path: Mapped[str] = mapped_column(SafeText(), default="")
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    #: What the executor said identifies the running attempt's work (opaque here): handed back to
    #: it to stop that work when a restarted scheduler takes the run over.
    executor_handle: Mapped[str | None] = mapped_column(SafeText(), default=None)

    __table_args__ = (
        Index("ux_stage_runs_run_stage", "run_id", "stage", unique=True),
        Index("ix_stage_runs_state", "state"),
        Index("ix_stage_runs_finished", "finished_at"),
        Index("ix_stage_runs_stage_finished", "stage", "status", "finished_at"),
    )


class BuildIdSequence(Base):
    """The last build_id handed out for one CI_NAME."""

    __tablename__ = "build_ids"

    ci_name: Mapped[str] = mapped_column(SafeString(100), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(Base):
    """A message committed with the state change that caused it; sent by the relay."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    topic: Mapped[str] = mapped_column(SafeString(255))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "id"),)


class DeadLetter(Base):
    """An inbound message that was rejected, with the reason: its first bytes and its full size."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    subscription: Mapped[str] = mapped_column(SafeString(200))
    topic: Mapped[str] = mapped_column(SafeText())
    #: At most DEAD_LETTER_KEPT_BYTES of the message, so that a flood of huge messages stays small.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(SafeText())
    #: The size of the whole message; None on rows from before sizes were kept (kept whole then).
    payload_size: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ResultTestcase(Base):
    """A ResultsDB test case: the name results are filed under."""

    __tablename__ = "testcases"

    name: Mapped[str] = mapped_column(SafeString(255), primary_key=True)
    ref_url: Mapped[str | None] = mapped_column(SafeText(), default=None)


class ResultGroup(Base):
    """A ResultsDB group: the results of one run, or a group a client posted."""

    __tablename__ = "result_groups"

    uuid: Mapped[str] = mapped_column(SafeString(36), primary_key=True)
    description: Mapped[str | None] = mapped_column(SafeText(), default=None)
    ref_url: Mapped[str | None] = mapped_column(SafeText(), default=None)
    run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Result(Base):
    """One ResultsDB result: a stage's outcome, one test of a test stage, or a posted result."""

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    testcase: Mapped[str] = mapped_column(SafeString(255))
    outcome: Mapped[str] = mapped_column(SafeString(32))
    item: Mapped[str] = mapped_column(SafeString(255), default="")
    type: Mapped[str] = mapped_column(SafeString(64), default="")
    submit_time: Mapped[datetime] = mapped_column(default=utcnow)
    ref_url: Mapped[str | None] = mapped_column(SafeText(), default=None)
    note: Mapped[str | None] = mapped_column(SafeText(), default=None)
    group_uuid: Mapped[str | None] = mapped_column(SafeString(36), default=None)
    #: Every data key with its values (lists), as ResultsDB returns them.
    data: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict)
    run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    stage_run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    attempt: Mapped[int | None] = mapped_column(Integer, default=None)
    #: stage | test | api: who wrote the result.
    source: Mapped[str] = mapped_column(SafeString(8), default="api")

    __table_args__ = (
        Index("ix_results_item_testcase", "item", "testcase", "submit_time"),
        Index("ix_results_testcase_time", "testcase", "submit_time"),
        Index("ix_results_submit_time", "submit_time"),
        Index("ix_results_group", "group_uuid"),
        Index("ix_results_stage_run", "stage_run_id", "attempt"),
        Index("ix_results_run", "run_id", "source"),
    )


class ResultData(Base):
    """One key = value of a result's data, for filtering by any key."""

    __tablename__ = "result_data"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"))
    key: Mapped[str] = mapped_column(SafeString(255))
    #: Shortened so that an entry of the (key, value) index fits PostgreSQL's 2704-byte B-tree
    #: limit even when every character takes four bytes; ``results.data`` keeps the whole value.
    value: Mapped[str] = mapped_column(SafeText(INDEXED_TEXT_LENGTH))

    __table_args__ = (
        Index("ix_result_data_key_value", "key", "value", "result_id"),
        Index("ix_result_data_result", "result_id"),
    )


class GatedPackage(Base):
    """A package whose maintainers opted in to gating, and the test cases its builds must pass."""

    __tablename__ = "gated_packages"

    package: Mapped[str] = mapped_column(SafeString(255), primary_key=True)
    decision_context: Mapped[str] = mapped_column(SafeString(100))
    test_cases: Mapped[list[str]] = mapped_column(SafeJSON(), default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForwardCursor(Base):
    """How far results were forwarded to another ResultsDB: the queue is the results table after it."""

    __tablename__ = "forward_cursors"

    target: Mapped[str] = mapped_column(SafeString(500), primary_key=True)
    last_result_id: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(SafeText(), default="")


class Waiver(Base):
    """A WaiverDB waiver: a subject's test case (and scenario) waived, or unwaived, in a product version."""

    __tablename__ = "waivers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_type: Mapped[str] = mapped_column(SafeString(255))
    subject_identifier: Mapped[str] = mapped_column(SafeString(255))
    testcase: Mapped[str] = mapped_column(SafeString(255))
    scenario: Mapped[str | None] = mapped_column(SafeString(255), default=None)
    product_version: Mapped[str] = mapped_column(SafeString(200))
    waived: Mapped[bool] = mapped_column(Boolean, default=True)
    username: Mapped[str] = mapped_column(SafeString(255))
    proxied_by: Mapped[str | None] = mapped_column(SafeString(255), default=None)
    comment: Mapped[str] = mapped_column(SafeText(), default="")
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_waivers_subject", "subject_type", "subject_identifier"),
        Index("ix_waivers_timestamp", "timestamp"),
    )


class DecisionAnswer(Base):
    """The last gating answer announced for (subject, decision context, product version).

    ``key`` is a digest of those four, so the primary key stays small on every store.
    """

    __tablename__ = "decision_answers"

    key: Mapped[str] = mapped_column(SafeString(64), primary_key=True)
    subject_type: Mapped[str] = mapped_column(SafeString(255))
    subject_identifier: Mapped[str] = mapped_column(SafeString(255))
    decision_context: Mapped[str] = mapped_column(SafeString(100))
    product_version: Mapped[str] = mapped_column(SafeString(200))
    answer: Mapped[dict[str, Any]] = mapped_column(SafeJSON())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """A forge webhook delivery already handled: its id is refused if it comes again (replay)."""

    __tablename__ = "webhook_deliveries"

    forge: Mapped[str] = mapped_column(SafeString(20), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(SafeString(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_webhook_deliveries_received_at", "received_at"),)


class MachineLease(Base):
    """One machine a stage attempt holds: no other attempt may use it until the lease is released.

    ``holder`` is the holding process (``host:pid:token``); it renews ``until`` while it holds the
    machine. A lease whose holder died or whose ``until`` passed is reclaimed: its provisioner tears
    the machine down from ``detail``, then the row goes. Released leases are deleted: the table is
    the machines held now.
    """

    __tablename__ = "machine_leases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provisioner: Mapped[str] = mapped_column(SafeString(32))
    machine: Mapped[str] = mapped_column(SafeString(200))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    stage: Mapped[str] = mapped_column(SafeString(32))
    attempt: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(SafeString(200))
    state: Mapped[LeaseState] = mapped_column(
        state_column_type(LeaseState, STATE_LENGTH), default=LeaseState.HELD
    )
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime] = mapped_column()
    #: What the provisioner needs to tear the machine down after its holder died.
    detail: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict)

    __table_args__ = (
        Index("ux_machine_leases_machine", "provisioner", "machine", unique=True),
        Index("ix_machine_leases_run", "run_id", "stage"),
        Index("ix_machine_leases_holder", "holder"),
    )
