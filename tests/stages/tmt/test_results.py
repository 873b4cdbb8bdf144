"""tmt's results.yaml read as per-test results: outcomes, logs, durations, and what is not tmt's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.stages.tmt.results import OUTCOMES, TmtResultsError, plan_results


def _write(execute: Path, entries: Any) -> None:
    execute.mkdir(parents=True, exist_ok=True)
    (execute / "results.yaml").write_text(yaml.safe_dump(entries))


def test_each_tmt_result_is_a_stored_outcome_with_its_log_and_duration(tmp_path: Path) -> None:
    log = tmp_path / "data" / "guest" / "default-0" / "tests" / "a-1" / "output.txt"
    log.parent.mkdir(parents=True)
    log.write_text("hello from a\n")
    entries = [
        {"name": f"/tests/{result}", "result": result, "duration": "00:01:02",
         "log": ["data/guest/default-0/tests/a-1/output.txt"], "note": ["a note"]}
        for result in OUTCOMES
    ]
    found = plan_results("/plans/all", tmp_path)
    assert found.tests == [] and not found.complete
    _write(tmp_path, entries)
    found = plan_results("/plans/all", tmp_path)
    assert found.complete
    assert {t.name: t.outcome for t in found.tests} == {
        "/plans/all /tests/pass": "PASSED", "/plans/all /tests/fail": "FAILED",
        "/plans/all /tests/error": "ERROR", "/plans/all /tests/warn": "NEEDS_INSPECTION",
        "/plans/all /tests/info": "INFO", "/plans/all /tests/skip": "SKIPPED",
    }
    assert all(t.duration == 62.0 and t.log == "# a note\nhello from a\n" for t in found.tests)


def test_a_pending_test_is_an_error_and_the_plan_incomplete(tmp_path: Path) -> None:
    _write(tmp_path, [{"name": "/t", "result": "pending"}])
    found = plan_results("/p", tmp_path)
    assert not found.complete
    assert found.tests[0].outcome == "ERROR" and "never ran" in found.tests[0].log


def test_logs_outside_the_execute_directory_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host secret")
    (tmp_path / "execute" / "data").mkdir(parents=True)
    (tmp_path / "execute" / "data" / "linked").symlink_to(tmp_path)
    logs = ["../secret", "/etc/passwd", "data/linked/secret"]
    _write(tmp_path / "execute", [{"name": "/t", "result": "pass", "log": logs}])
    assert plan_results("/p", tmp_path / "execute").tests[0].log == ""


@pytest.mark.parametrize("text", ["{not: [yaml", "just a string", "- 3\n", "- {result: pass}\n"])
def test_a_results_file_tmt_did_not_write_is_one_clear_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "results.yaml").write_text(text)
    with pytest.raises(TmtResultsError, match="/p"):
        plan_results("/p", tmp_path)


entry = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=30)},
    optional={
        "result": st.one_of(st.sampled_from([*OUTCOMES, "pending"]), st.text(max_size=10), st.integers()),
        "duration": st.one_of(st.text(max_size=12), st.none(), st.integers()),
        "log": st.one_of(st.lists(st.one_of(st.text(max_size=20), st.integers())), st.text(max_size=5)),
        "note": st.one_of(st.lists(st.one_of(st.text(max_size=20), st.none())), st.none()),
    },
)


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(entry, max_size=5))
def test_any_list_of_named_entries_is_read_without_a_crash(tmp_path_factory: Any, entries: list[Any]) -> None:
    directory = tmp_path_factory.mktemp("results")
    _write(directory, entries)
    found = plan_results("/p", directory)
    assert len(found.tests) == len(entries)
    assert all(t.outcome in {*OUTCOMES.values()} for t in found.tests)
    assert all(t.duration >= 0 for t in found.tests)
