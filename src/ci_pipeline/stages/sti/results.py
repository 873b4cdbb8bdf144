"""Results of Standard Test Interface runs: ``test.log`` lines, per-test logs, JUnit XML.

A test's outcome comes from its ``PASS <name>`` / ``FAIL <name>`` line in ``$TEST_ARTIFACTS/test.log``
(``ERROR`` and ``SKIP`` lines are read too); its log is ``<name>.log`` beside it, whose optional
``# exit status <n>, <seconds> s`` header (written by the shipped roles) gives the duration.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.stages.base import TestCaseResult

OUTCOMES = {"PASS": "PASSED", "FAIL": "FAILED", "ERROR": "ERROR", "SKIP": "SKIPPED"}
_LINE = re.compile(r"(PASS|FAIL|ERROR|SKIP):?[ \t]+(\S.*)")
_DURATION = re.compile(r"^# exit status -?\d+, ([0-9]+(?:\.[0-9]+)?) s$", re.M)
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
#: How much of a test's log is kept in its result (the whole log stays among the artifacts).
MAX_LOG_CHARS = 64 * 1024


def parse_test_log(text: str) -> list[tuple[str, str]]:
    """(name, outcome) of every result line of a ``test.log``, in order; other lines are ignored."""
    results = []
    for line in text.splitlines():
        match = _LINE.fullmatch(line.strip())
        if match:
            results.append((match.group(2).strip(), OUTCOMES[match.group(1)]))
    return results


def log_file_name(name: str) -> str:
    """The file name the shipped roles give a test's log (the same rule as their action plugin)."""
    return (_UNSAFE_IN_FILE_NAME.sub("_", name).strip("._") or "test")[:120] + ".log"


def collect_results(artifacts: Path, lines: Sequence[tuple[str, str]]) -> list[TestCaseResult]:
    """One result per result line, with its log and duration when the artifacts hold them."""
    results = []
    for name, outcome in lines:
        log_path = artifacts / log_file_name(name)
        log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
        found = _DURATION.search(log)
        duration = float(found.group(1)) if found else 0.0
        log = log[-MAX_LOG_CHARS:]
        results.append(TestCaseResult(name=name, outcome=outcome, duration=duration, log=log))
    return results


def junit_xml(suite: str, tests: Sequence[TestCaseResult]) -> bytes:
    """A JUnit XML report of ``tests`` as one test suite."""
    counts = {outcome: sum(1 for t in tests if t.outcome == outcome) for outcome in OUTCOMES.values()}
    root = ET.Element("testsuites")
    element = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(tests)),
        failures=str(counts["FAILED"]),
        errors=str(counts["ERROR"]),
        skipped=str(counts["SKIPPED"]),
        time=f"{sum(t.duration for t in tests):.3f}",
    )
    for test in tests:
        seconds = f"{test.duration:.3f}"
        case = ET.SubElement(element, "testcase", classname=suite, name=test.name, time=seconds)
        tag = {"FAILED": "failure", "ERROR": "error", "SKIPPED": "skipped"}.get(test.outcome)
        if tag:
            ET.SubElement(case, tag, message=f"{test.name} {test.outcome.lower()}")
        if test.log:
            ET.SubElement(case, "system-out").text = _xml_safe(test.log)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _xml_safe(text: str) -> str:
    # XML 1.0 has no way to write most control characters, even escaped.
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "\ufffd", text)


def write_junit(directory: Path, suite: str, tests: Sequence[TestCaseResult]) -> None:
    """Write ``results.xml`` (JUnit) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.xml").write_bytes(junit_xml(suite, tests))
