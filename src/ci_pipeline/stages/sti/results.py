"""Results of Standard Test Interface runs: ``results.yml``, ``test.log`` lines, per-test logs, JUnit XML.

A test's outcome comes from ``$TEST_ARTIFACTS/results.yml`` (STI 2.0: ``results: [{test: NAME,
result: pass|fail|error, logs: [FILE, ...]}]``) when the playbook wrote one, else from its
``PASS <name>`` / ``FAIL <name>`` line in ``$TEST_ARTIFACTS/test.log`` (``ERROR`` and ``SKIP`` lines
are read too). Its log is the first of its ``logs`` present, else ``<name>.log``, whose optional
``# exit status <n>, <seconds> s`` header (written by the shipped roles) gives the duration.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ci_pipeline.stages.base import TestCaseResult

OUTCOMES = {"PASS": "PASSED", "FAIL": "FAILED", "ERROR": "ERROR", "SKIP": "SKIPPED"}
#: STI 2.0 ``result`` values (``skip`` is read too; anything else is an ERROR).
RESULTS_YML_OUTCOMES = {"pass": "PASSED", "fail": "FAILED", "error": "ERROR", "skip": "SKIPPED"}
RESULTS_YML = "results.yml"
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


class ResultsFileError(ValueError):
    """A ``results.yml`` that is not STI 2.0; the message says what is wrong."""


def parse_results_yml(text: str) -> list[tuple[str, str, list[str]]]:
    """(name, outcome, log files) of every entry of an STI 2.0 ``results.yml``, in order."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ResultsFileError(f"results.yml is not YAML: {str(exc).splitlines()[0]}") from exc
    if document is None:
        return []
    entries = document.get("results") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ResultsFileError("results.yml has no 'results' list.")
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("test"), (str, int, float)):
            raise ResultsFileError(f"results.yml entry {str(entry)[:200]!r} has no 'test' name.")
        name = str(entry["test"]).strip()[:500] or "test"
        outcome = RESULTS_YML_OUTCOMES.get(str(entry.get("result", "")).strip().lower(), "ERROR")
        found.append((name, outcome, _log_names(entry.get("logs"))))
    return found


def _log_names(value: Any) -> list[str]:
    """The entry's log files that name a file inside the artifacts (others are ignored)."""
    names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    kept = []
    for name in names:
        if not isinstance(name, str):
            continue
        path = posixpath.normpath(name.strip())
        if path and not path.startswith(("/", "../")) and path not in {".", ".."} and "\0" not in path:
            kept.append(path)
    return kept


def results_yml_entry(name: str, outcome: str, logs: Sequence[str]) -> dict[str, Any]:
    """The ``results.yml`` entry of a test (outcome as ``PASSED``, ``FAILED``...)."""
    value = {v: k for k, v in RESULTS_YML_OUTCOMES.items()}[outcome]
    return {"test": name, "result": value, "logs": list(logs)}


def append_results_yml(artifacts: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """Add entries to ``<artifacts>/results.yml`` (made when missing)."""
    path = artifacts / RESULTS_YML
    try:
        present = parse_results_yml(path.read_text(encoding="utf-8")) if path.is_file() else []
    except ResultsFileError:
        present = []
    kept = [results_yml_entry(name, outcome, logs) for name, outcome, logs in present]
    text = yaml.safe_dump({"results": [*kept, *entries]}, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")


def collect_results(
    artifacts: Path, lines: Sequence[tuple[str, str]], logs: Mapping[str, Sequence[str]] | None = None
) -> list[TestCaseResult]:
    """One result per result line, with its log and duration when the artifacts hold them.

    ``logs`` names each test's log files (from ``results.yml``); the first present one is its log.
    """
    results = []
    for name, outcome in lines:
        candidates = [artifacts / n for n in (logs or {}).get(name, ())] + [artifacts / log_file_name(name)]
        log_path = next((p for p in candidates if p.is_file() and not p.is_symlink()), candidates[-1])
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


class JUnitError(ValueError):
    """A JUnit XML report that cannot be read; the message says why."""


def parse_junit(data: bytes) -> list[TestCaseResult]:
    """One result per ``<testcase>`` of a JUnit XML report, in order.

    A case is named ``classname.name``, or ``name`` alone when its classname is its suite's name (as
    :func:`junit_xml` and Kubernetes' conformance suite write them). A case with ``<failure>`` is
    FAILED, ``<error>`` ERROR, ``<skipped>`` SKIPPED, else PASSED; its log is the failure's message
    and text with its ``system-out`` and ``system-err``.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise JUnitError(f"The JUnit report is not XML: {exc}") from exc
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite")) or [root]
    return [
        _junit_case(case, suite.get("name", "")) for suite in suites for case in suite.findall("testcase")
    ]


def _junit_case(case: ET.Element, suite: str) -> TestCaseResult:
    name, classname = case.get("name", "").strip(), case.get("classname", "").strip()
    if not name:
        raise JUnitError("A <testcase> of the JUnit report has no name.")
    outcome, parts = "PASSED", []
    for tag, verdict in (("skipped", "SKIPPED"), ("error", "ERROR"), ("failure", "FAILED")):
        found = case.find(tag)
        if found is not None:
            outcome = verdict
            parts += [found.get("message", ""), found.text or ""]
    parts += [(case.findtext(tag) or "") for tag in ("system-out", "system-err")]
    try:
        duration = max(0.0, float(case.get("time", "0") or 0))
    except ValueError:
        duration = 0.0
    log = "\n".join(part.strip() for part in parts if part.strip())[-MAX_LOG_CHARS:]
    full = f"{classname}.{name}" if classname and classname != suite else name
    return TestCaseResult(name=full[:500], outcome=outcome, duration=duration, log=log)
