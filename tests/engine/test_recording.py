"""A stage's end is stored whatever it carries; a store that refuses it fails the stage, not the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import DataError

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config, load_config
from ci_pipeline.engine import core
from ci_pipeline.engine import transitions as t
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.definition import BUILTIN_STAGES, PipelineDefinition
from ci_pipeline.errors import StoreUnavailable
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.messages.topics import Stage, Status
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import ResultTestcase, Run, StageRun
from ci_pipeline.store.safe_types import MARKER, storable_json, storable_text, stored_form

from .helpers import ManualClock, add_run, command_pipeline, drive, postgres_store, run_messages
from .poison_stage import POISON

HERE = Path(__file__).resolve().parent
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))


def builtin_engine(config: Config, store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch,
                   clock: ManualClock | None = None, **implementations: str) -> Engine:
    """An engine whose ``implementations`` (stage=module:function) run built in, the rest as ``true``."""
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    for stage, implementation in implementations.items():
        monkeypatch.setitem(BUILTIN_STAGES, Stage(stage), implementation)
    pipeline = PipelineDefinition(tuple(
        replace(spec, command=None) if spec.name in implementations else spec
        for spec in command_pipeline().stages
    ))
    if clock is None:
        return Engine(config, store, bus, executor=LocalExecutor(2), pipeline=pipeline)
    return Engine(config, store, bus, executor=LocalExecutor(2), pipeline=pipeline,
                  clock=clock, sleep=clock.advance)


def stages(store: Store, run_id: int) -> tuple[Run, dict[str, StageRun], dict[str, list[dict[str, object]]]]:
    """A run, its stage rows by stage, and the tests each stage stored, by stage."""
    with store.session() as session:
        run = q.get_run(session, run_id)
        rows = {row.stage: row for row in q.stages_of(session, run_id)}
        tests = q.stage_tests(session, list(rows.values()))
    return run, rows, {row.stage: tests.get(row.id, []) for row in rows.values()}


def test_a_stage_end_carrying_nul_surrogates_and_long_text_is_recorded(
    config: Config, store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = builtin_engine(config, store, bus, monkeypatch,
                            functional="poison_stage:succeed", integration="poison_stage:fail")
    poisoned, plain = add_run(store, repo="poison"), add_run(store, repo="vim")
    drive(engine, bus)
    run, rows, tests = stages(store, poisoned)
    statuses = (run.status, rows["functional"].status, rows["integration"].status)
    assert statuses == ("FAILURE", "SUCCESS", "FAILURE")
    assert rows["functional"].outputs == {"marker": "a\ufffdb\ufffd"}
    assert run.fields["marker"] == "a\ufffdb\ufffd"
    assert rows["integration"].reason == "make check printed \ufffd and \ufffd then " + "x" * 400
    assert run.reason == storable_text(f"The integration stage failed: {POISON}")
    for stage in ("functional", "integration"):
        assert [(test["name"], test["outcome"], test["log"]) for test in tests[stage]] == [
            ("nul\ufffdtest", "FAILED", "output\ufffdhere"), ("long-" + "n" * 400, "PASSED", "\ufffd")
        ]
    with store.session() as session:
        testcases = set(session.execute(select(ResultTestcase.name)).scalars())
    assert "ci-pipeline.integration.nul\ufffdtest" in testcases
    assert ("ci-pipeline.integration.long-" + "n" * 400)[:254] + MARKER in testcases
    assert run_messages(bus, "1")[-2:] == ["compose.test.integration.complete:FAILURE", "complete:FAILURE"]
    assert stages(store, plain)[0].status == "SUCCESS"


def _refuse_once(monkeypatch: pytest.MonkeyPatch, error: Exception, times: int = 1) -> list[int]:
    """Make storing test results raise ``error`` the first ``times`` times; return the call count."""
    calls = [0]
    record = t.record_test_results

    def refusing(*args: Any) -> int:
        calls[0] += 1
        if calls[0] <= times:
            raise error
        return record(*args)

    monkeypatch.setattr(t, "record_test_results", refusing)
    return calls


def test_a_store_error_recording_a_stage_fails_it_with_the_reason_and_the_scheduler_goes_on(
    config: Config, store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = Exception("value too long for type character varying(255)\nDETAIL: more lines")
    calls = _refuse_once(monkeypatch, DataError("INSERT INTO results ...", {"testcase": "x"}, driver))
    engine = builtin_engine(config, store, bus, monkeypatch, functional="poison_stage:succeed_with_tests")
    first = add_run(store)
    drive(engine, bus)
    run, rows, tests = stages(store, first)
    assert (run.status, rows["functional"].status, rows["compose"].state) == ("FAILURE", "FAILURE", "skipped")
    assert rows["functional"].reason == (
        "The store refused the functional stage's end: value too long for type character varying(255)."
    )
    assert run.reason == f"The functional stage failed: {rows['functional'].reason}"
    assert tests["functional"] == [] and rows["functional"].outputs == {}
    assert run_messages(bus, "1")[-2:] == ["package.test.functional.complete:FAILURE", "complete:FAILURE"]
    second = add_run(store, repo="other")
    drive(engine, bus)
    run, rows, tests = stages(store, second)
    assert (run.status, [test["name"] for test in tests["functional"]], calls[0]) == ("SUCCESS", ["boots"], 2)


def test_a_stage_end_waits_while_the_store_is_unavailable_and_is_then_recorded(
    config: Config, store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _refuse_once(monkeypatch, StoreUnavailable("The store at x failed: connection refused."), times=2)
    clock = ManualClock()  # the engine's waits for the store move this clock, not the wall clock
    engine = builtin_engine(config, store, bus, monkeypatch, clock,
                            functional="poison_stage:succeed_with_tests")
    run_id = add_run(store)
    started = clock()
    drive(engine, bus)
    run, rows, tests = stages(store, run_id)
    assert (run.status, rows["functional"].attempt, calls[0]) == ("SUCCESS", 1, 3)
    assert [test["name"] for test in tests["functional"]] == ["boots"]
    assert clock() - started >= 2 * core.RECORD_RETRY_SECONDS  # it waited between the tries


@pytest.fixture(scope="module")
def postgres() -> Iterator[Store]:
    """One PostgreSQL store (a fresh schema) for every example of a property test."""
    with postgres_store() as store:
        yield store


@pytest.fixture(scope="module")
def module_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A default configuration, for tests that outlive one function's fixtures."""
    return load_config(environ={"CI_PIPELINE_STATE_DIR": str(tmp_path_factory.mktemp("state"))})


@pytest.mark.postgres
@settings(max_examples=60, deadline=None)
@given(reason=ANY_TEXT, outputs=st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3),
       names=st.lists(ANY_TEXT, max_size=3), log=ANY_TEXT)
def test_any_text_in_a_stage_end_is_read_back_from_postgresql(
    postgres: Store, module_config: Config, reason: str, outputs: dict[str, str], names: list[str], log: str
) -> None:
    outputs = {f"x_{key}": value for key, value in outputs.items()}  # never a message field's name
    run_id = add_run(postgres)
    with postgres.session() as session:
        run = q.get_run(session, run_id)
        row = t.initialize_stages(session, run, command_pipeline())[0]
        t.start_stage(session, module_config, run, row, "/logs/build.1.log")
        t.complete_stage(session, module_config, run, row, Status.SUCCESS, reason, outputs)
        t.record_tests(session, run, row, [{"name": name, "outcome": "PASSED", "log": log} for name in names])
    run, rows, tests = stages(postgres, run_id)
    assert rows["build"].reason == storable_text(reason)
    assert rows["build"].outputs == storable_json(outputs)
    assert all(run.fields[key] == value for key, value in storable_json(outputs).items())
    assert [(test["name"], test["log"]) for test in tests["build"]] == [
        (storable_text(name), storable_text(log[-2000:])) for name in names
    ]
    with postgres.session() as session:
        testcases = set(session.execute(select(ResultTestcase.name)).scalars())
    assert {stored_form(ResultTestcase.name, f"ci-pipeline.build.{name}") for name in names} <= testcases
