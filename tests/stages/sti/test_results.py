"""Reading STI test.log lines and per-test logs, and writing JUnit XML."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.stages import base
from ci_pipeline.stages.sti.results import (
    JUnitError,
    ResultsFileError,
    append_results_yml,
    collect_results,
    junit_xml,
    log_file_name,
    parse_junit,
    parse_results_yml,
    parse_test_log,
    results_yml_entry,
)

NAMES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s
)


def test_parse_test_log_reads_pass_fail_error_and_skip_lines_in_order() -> None:
    text = "PASS one\nsome noise\nFAIL two words\nERROR: three\nSKIP four\nPASSED nope\n"
    assert parse_test_log(text) == [
        ("one", "PASSED"),
        ("two words", "FAILED"),
        ("three", "ERROR"),
        ("four", "SKIPPED"),
    ]


@given(st.lists(st.tuples(st.sampled_from(["PASS", "FAIL"]), NAMES), max_size=20))
def test_parse_test_log_round_trips_what_the_roles_write(lines: list[tuple[str, str]]) -> None:
    text = "".join(f"{word} {name}\n" for word, name in lines)
    parsed = parse_test_log(text)
    assert parsed == [(name, "PASSED" if word == "PASS" else "FAILED") for word, name in lines]


@given(st.text(max_size=300))
def test_parse_test_log_never_fails_on_any_text(text: str) -> None:
    for name, outcome in parse_test_log(text):
        assert name and outcome in {"PASSED", "FAILED", "ERROR", "SKIPPED"}


@given(NAMES)
def test_log_file_names_are_plain_file_names(name: str) -> None:
    file_name = log_file_name(name)
    assert file_name.endswith(".log") and "/" not in file_name and not file_name.startswith(".")


def test_collect_results_reads_each_tests_log_and_duration(tmp_path: Path) -> None:
    (tmp_path / "adds.log").write_text("# adds\n# exit status 0, 1.250 s\nok\n")
    results = collect_results(tmp_path, [("adds", "PASSED"), ("no log", "FAILED")])
    assert results[0] == base.TestCaseResult("adds", "PASSED", 1.25, "# adds\n# exit status 0, 1.250 s\nok\n")
    assert results[1] == base.TestCaseResult("no log", "FAILED", 0.0, "")


def test_junit_xml_counts_outcomes_and_keeps_logs() -> None:
    tests = [
        base.TestCaseResult("a", "PASSED", 1.0, "fine"),
        base.TestCaseResult("b", "FAILED", 2.0, "bad \x01 byte"),
        base.TestCaseResult("c", "SKIPPED"),
        base.TestCaseResult("d", "ERROR"),
    ]
    suite = ET.fromstring(junit_xml("pkg", tests)).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "4",
        "1",
        "1",
        "1",
    )
    assert suite.get("time") == "3.000"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["b"].find("failure") is not None and cases["a"].find("failure") is None
    assert cases["c"].find("skipped") is not None and cases["d"].find("error") is not None
    assert cases["b"].findtext("system-out") == "bad \ufffd byte"


def test_results_yml_entries_are_read_in_order() -> None:
    text = (
        "results:\n- {test: one, result: pass, logs: [one.log]}\n- {test: two, result: FAIL}\n"
        "- {test: three, result: error, logs: [/etc/passwd, ../up.log, sub/three.log]}\n"
        "- {test: 4, result: skip}\n- {test: five, result: needs_inspection}\n"
    )
    assert parse_results_yml(text) == [
        ("one", "PASSED", ["one.log"]),
        ("two", "FAILED", []),
        ("three", "ERROR", ["sub/three.log"]),
        ("4", "SKIPPED", []),
        ("five", "ERROR", []),
    ]
    assert parse_results_yml("") == []


@pytest.mark.parametrize(
    "text", ["results: [ {", "- a\n- b\n", "results: {test: x}\n", "results:\n- {result: pass}\n"]
)
def test_a_results_yml_that_is_not_sti_is_refused(text: str) -> None:
    with pytest.raises(ResultsFileError):
        parse_results_yml(text)


# Each append re-reads the file with PyYAML: slow on a busy machine, so no per-example deadline.
@settings(deadline=None)
@given(st.lists(st.tuples(NAMES, st.sampled_from(["PASSED", "FAILED", "ERROR", "SKIPPED"])), max_size=10))
def test_results_yml_round_trips_what_the_roles_append(entries: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        artifacts = Path(scratch)
        for name, outcome in entries:
            append_results_yml(artifacts, [results_yml_entry(name, outcome, [log_file_name(name)])])
        text = (artifacts / "results.yml").read_text() if entries else ""
    assert parse_results_yml(text) == [(n, o, [log_file_name(n)]) for n, o in entries]


def test_a_results_yml_log_is_the_tests_log(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "one.txt").write_text("from results.yml\n")
    (tmp_path / "one.log").write_text("by name\n")
    [result] = collect_results(tmp_path, [("one", "PASSED")], {"one": ["missing.txt", "logs/one.txt"]})
    assert result.log == "from results.yml\n"


@given(st.text(max_size=200))
def test_any_results_yml_text_is_read_or_refused_with_a_reason(text: str) -> None:
    try:
        entries = parse_results_yml(text)
    except ResultsFileError as exc:
        assert str(exc).startswith("results.yml ")
        return
    for name, outcome, logs in entries:
        assert name and outcome in {"PASSED", "FAILED", "ERROR", "SKIPPED"}
        assert all(not log.startswith(("/", "../")) for log in logs)


def test_parse_junit_reads_each_case_with_its_outcome_and_log() -> None:
    report = b"""<?xml version="1.0"?>
<testsuites><testsuite name="conformance">
  <testcase classname="reach" name="node1-serves-node2" time="0.5"/>
  <testcase classname="reach" name="node2-serves-node1"><failure message="no answer">refused</failure>
    <system-out>tried twice</system-out></testcase>
  <testcase name="[sig-network] DNS works"><skipped/></testcase>
  <testcase name="broken"><error message="crashed"/></testcase>
</testsuite></testsuites>"""
    results = parse_junit(report)
    assert [(t.name, t.outcome) for t in results] == [
        ("reach.node1-serves-node2", "PASSED"),
        ("reach.node2-serves-node1", "FAILED"),
        ("[sig-network] DNS works", "SKIPPED"),
        ("broken", "ERROR"),
    ]
    assert results[0].duration == 0.5
    assert "no answer" in results[1].log and "refused" in results[1].log and "tried twice" in results[1].log


@given(st.lists(st.tuples(NAMES, st.sampled_from(["PASSED", "FAILED", "ERROR", "SKIPPED"]))))
def test_parse_junit_reads_back_what_junit_xml_writes(cases: list[tuple[str, str]]) -> None:
    tests = [base.TestCaseResult(name=name, outcome=outcome) for name, outcome in cases]
    read = parse_junit(junit_xml("suite", tests))
    assert [(t.name, t.outcome) for t in read] == [(t.name, t.outcome) for t in tests]


@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused_with_a_reason(data: bytes) -> None:
    try:
        parse_junit(data)
    except JUnitError as exc:
        assert str(exc)
