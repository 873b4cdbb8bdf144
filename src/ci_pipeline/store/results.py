"""Writing results: each stage's outcome and each test of a test stage, in ResultsDB's shape.

A stage's result is named ``ci-pipeline.<stage>`` and a test's ``ci-pipeline.<stage>.<test>``; the
item is the run's nvr (``repo@rev`` before the build made one) and the type ``koji_build``. Stage
results are written by :func:`sync_stage_results` from ``stage_runs`` (one per state an attempt
reaches: QUEUED, RUNNING, then PASSED/FAILED/ERROR), test results by :func:`record_test_results`,
which the engine calls when a stage completes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from ci_pipeline.errors import NotFound
from ci_pipeline.stage_contract import TestCaseResult
from ci_pipeline.store.models import Result, ResultData, ResultGroup, ResultTestcase, Run, StageRun, utcnow
from ci_pipeline.store.safe_types import stored_form
from ci_pipeline.store.states import StageState

TESTCASE_PREFIX = "ci-pipeline"
ITEM_TYPE = "koji_build"
STAGE_OUTCOMES = {"SUCCESS": "PASSED", "FAILURE": "FAILED", "ABORTED": "ERROR"}
#: Outcomes a result may carry: ResultsDB's four and the pipeline's own.
OUTCOMES = ("PASSED", "INFO", "FAILED", "NEEDS_INSPECTION", "ERROR", "QUEUED", "RUNNING", "SKIPPED")
#: Run fields copied into every result's data.
DATA_FIELDS = ("repo", "rev", "branch", "namespace", "nvr", "original_spec_nvr", "ci_name")
_GROUPS = uuid.UUID("6c5bd0f4-1f62-4c8e-9d0e-2f2d9a3c1b7e")


def stage_testcase(stage: str) -> str:
    """The test case name of a stage's result, e.g. ``ci-pipeline.functional``."""
    return f"{TESTCASE_PREFIX}.{stage}"


def run_item(run: Run) -> str:
    """The item a run's results are about: its nvr, or ``repo@rev`` before it has one."""
    nvr = run.fields.get("nvr")
    return str(nvr) if nvr else f"{run.repo}@{run.rev}"


def run_group_uuid(run_id: int) -> str:
    """The stable uuid of the ResultsDB group holding a run's results."""
    return str(uuid.uuid5(_GROUPS, f"run:{run_id}"))


def stage_outcome(row: StageRun) -> str | None:
    """The outcome a stage row stands for now; None for a stage that is pending or skipped."""
    if row.state == StageState.COMPLETE:
        return STAGE_OUTCOMES.get(row.status or "", "ERROR")
    return {StageState.QUEUED: "QUEUED", StageState.RUNNING: "RUNNING"}.get(row.state)


def _attempt_of(row: StageRun) -> int:
    # A queued stage has not counted its attempt yet; the attempt it is queued for is the next.
    return row.attempt + 1 if row.state == StageState.QUEUED else row.attempt


def run_data(run: Run, stage: str) -> dict[str, str]:
    """The data of a run's results: repo, rev, branch, ..., build_id, run_id and the stage."""
    data = {key: str(run.fields.get(key) or getattr(run, key, "") or "") for key in DATA_FIELDS}
    data.update(
        build_id=str(run.build_id), run_id=str(run.id), stage=stage, item=run_item(run), type=ITEM_TYPE
    )
    return {key: value for key, value in data.items() if value}


def ensure_testcases(session: Session, names: Iterable[str]) -> None:
    """Create the test cases among ``names`` that do not exist yet."""
    # Compared in their stored form: two long names may be one test case once shortened.
    wanted = {stored_form(ResultTestcase.name, name) for name in names}
    if not wanted:
        return
    known = set(session.execute(select(ResultTestcase.name).where(ResultTestcase.name.in_(wanted))).scalars())
    missing = sorted(wanted - known)
    if missing:
        session.execute(insert(ResultTestcase), [{"name": name, "ref_url": None} for name in missing])


def ensure_run_group(session: Session, run: Run) -> str:
    """The group of ``run``'s results, created on first use."""
    group = run_group_uuid(run.id)
    if session.get(ResultGroup, group) is None:
        session.add(
            ResultGroup(
                uuid=group,
                description=f"{run.ci_name} #{run.build_id}: {run.repo}",
                ref_url=str(run.fields.get("build_url") or ""),
                run_id=run.id,
            )
        )
        session.flush()
    return group


def insert_results(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert results (column values; ``data`` maps keys to value lists) and their data rows."""
    ids: list[int] = []
    for row in rows:
        values = {"submit_time": utcnow(), "source": "api", **row}
        ids.append(int(session.execute(insert(Result).values(**values).returning(Result.id)).scalar_one()))
    data_rows = [
        {"result_id": result_id, "key": key, "value": str(value)}
        for result_id, row in zip(ids, rows, strict=True)
        for key, values in row.get("data", {}).items()
        for value in values
    ]
    if data_rows:
        session.execute(insert(ResultData), data_rows)
    return ids


def _result_row(
    run: Run,
    row: StageRun,
    testcase: str,
    outcome: str,
    data: dict[str, str],
    note: str,
    group: str,
    source: str,
    attempt: int,
) -> dict[str, Any]:
    return {
        "testcase": testcase,
        "outcome": outcome,
        "item": run_item(run),
        "type": ITEM_TYPE,
        "ref_url": str(run.fields.get("build_url") or "") or None,
        "note": note or None,
        "group_uuid": group,
        "data": {key: [value] for key, value in data.items()},
        "run_id": run.id,
        "stage_run_id": row.id,
        "attempt": attempt,
        "source": source,
    }


def record_test_results(
    session: Session, stage_run_id: int, run_id: int, tests: Sequence[TestCaseResult]
) -> int:
    """Store the tests a stage ran as results ``ci-pipeline.<stage>.<test>``; return how many."""
    row = session.get(StageRun, stage_run_id)
    run = session.get(Run, run_id)
    if row is None or run is None or row.run_id != run_id:
        raise NotFound(f"Run {run_id} has no stage row {stage_run_id}; its test results cannot be stored.")
    if not tests:
        return 0
    group = ensure_run_group(session, run)
    rows = []
    for test in tests:
        data = {**run_data(run, row.stage), "test": test.name, "duration": f"{test.duration:.3f}"}
        rows.append(
            _result_row(
                run,
                row,
                f"{stage_testcase(row.stage)}.{test.name}",
                test.outcome.upper(),
                data,
                test.log[-2000:],
                group,
                "test",
                row.attempt,
            )
        )
    ensure_testcases(session, [str(r["testcase"]) for r in rows])
    insert_results(session, rows)
    return len(rows)


def record_stage_result(session: Session, run: Run, row: StageRun) -> int | None:
    """Store the result a stage row stands for now, unless it is already stored; return its id."""
    outcome = stage_outcome(row)
    if outcome is None:
        return None
    attempt = _attempt_of(row)
    existing = select(Result.id).where(
        Result.stage_run_id == row.id,
        Result.attempt == attempt,
        Result.source == "stage",
        Result.outcome == outcome,
    )
    if session.execute(existing.limit(1)).first() is not None:
        return None
    group = ensure_run_group(session, run)
    testcase = stage_testcase(row.stage)
    ensure_testcases(session, [testcase])
    note = row.reason.splitlines()[0] if row.reason else ""
    result = _result_row(run, row, testcase, outcome, run_data(run, row.stage), note, group, "stage", attempt)
    return insert_results(session, [result])[0]


def sync_stage_results(session: Session, since: datetime | None = None) -> int:
    """Record every stage state not yet stored as a result; ``since`` limits the finished stages looked at.

    Unfinished stages are few (indexed by state); finished ones are only those that finished
    after ``since`` (all of them when it is None).
    """
    active = select(StageRun).where(StageRun.state.in_((StageState.QUEUED, StageState.RUNNING)))
    finished = select(StageRun).where(StageRun.state == StageState.COMPLETE)
    if since is not None:
        finished = finished.where(StageRun.finished_at >= since - timedelta(seconds=5))
    rows = [*session.execute(active).scalars(), *session.execute(finished).scalars()]
    if not rows:
        return 0
    stored: set[tuple[int | None, int | None, str]] = set()
    for chunk in range(0, len(rows), 500):
        keys = [(row.id, _attempt_of(row)) for row in rows[chunk : chunk + 500]]
        query = select(Result.stage_run_id, Result.attempt, Result.outcome).where(
            Result.source == "stage", tuple_(Result.stage_run_id, Result.attempt).in_(keys)
        )
        stored.update((row[0], row[1], row[2]) for row in session.execute(query))
    count = 0
    runs: dict[int, Run] = {}
    for row in rows:
        outcome = stage_outcome(row)
        if outcome is None or (row.id, _attempt_of(row), outcome) in stored:
            continue
        run = runs.get(row.run_id) or session.get(Run, row.run_id)
        if run is None:
            continue
        runs[row.run_id] = run
        if record_stage_result(session, run, row) is not None:
            count += 1
    return count
