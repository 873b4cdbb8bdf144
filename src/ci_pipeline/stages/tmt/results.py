"""tmt's ``results.yaml`` as per-test results, stored and shown like the STI ones.

Each plan's ``<run>/<plan>/execute/results.yaml`` lists its tests: ``name``, ``result`` (pass, fail,
error, warn, info, skip; ``pending`` for one that never ran), ``duration`` (``HH:MM:SS``), ``log``
(files relative to the execute directory, the test's output first) and ``note``. A warning needs a
person to look (NEEDS_INSPECTION), as ResultsDB says it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_pipeline.stages.base import TestCaseResult
from ci_pipeline.stages.sti.results import MAX_LOG_CHARS

OUTCOMES = {
    "pass": "PASSED",
    "fail": "FAILED",
    "error": "ERROR",
    "warn": "NEEDS_INSPECTION",
    "info": "INFO",
    "skip": "SKIPPED",
}
#: The result of a test tmt did not get to run.
PENDING = "pending"
RESULTS_FILE = "results.yaml"
_DURATION = re.compile(r"(\d+):([0-5]\d):([0-5]\d)")


class TmtResultsError(ValueError):
    """A ``results.yaml`` that is not what tmt writes; the message says what is wrong."""


@dataclass(frozen=True)
class PlanResults:
    """What one plan's ``results.yaml`` says: its tests, and whether tmt ran them all."""

    tests: list[TestCaseResult]
    complete: bool


def plan_results(plan: str, execute_dir: Path) -> PlanResults:
    """The tests of one plan, from its execute directory's ``results.yaml``; a plan without one, or
    with a test tmt never ran (``pending``, an ERROR saying so), is not complete."""
    path = execute_dir / RESULTS_FILE
    if not path.is_file():
        return PlanResults([], complete=False)
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        raise TmtResultsError(f"{path.name} of {plan} is not YAML: {str(exc).splitlines()[0]}") from exc
    if entries is None:
        return PlanResults([], complete=True)
    if not isinstance(entries, list):
        raise TmtResultsError(f"{path.name} of {plan} is not a list of results.")
    pending = any(isinstance(entry, dict) and entry.get("result") == PENDING for entry in entries)
    return PlanResults([_result(plan, entry, execute_dir) for entry in entries], complete=not pending)


def _result(plan: str, entry: Any, execute_dir: Path) -> TestCaseResult:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise TmtResultsError(f"A result of {plan} has no test name: {str(entry)[:200]!r}.")
    result = str(entry.get("result", ""))
    outcome = OUTCOMES.get(result, "ERROR")
    notes = [str(note) for note in entry.get("note") or [] if isinstance(note, (str, int, float))]
    if result == PENDING:
        notes.append("tmt never ran this test: the plan stopped before it.")
    elif result not in OUTCOMES:
        notes.append(f"tmt reported the result {result[:40]!r}: the test did not run to its end.")
    log = _first_log(entry.get("log"), execute_dir)
    text = "\n".join([*(f"# {note}" for note in notes), log])
    return TestCaseResult(
        name=f"{plan} {entry['name']}",
        outcome=outcome,
        duration=_seconds(entry.get("duration")),
        log=text[-MAX_LOG_CHARS:],
    )


def _first_log(logs: Any, execute_dir: Path) -> str:
    """The text of the first log file the entry names that is inside the execute directory."""
    for name in logs if isinstance(logs, list) else []:
        if not isinstance(name, str):
            continue
        relative = posixpath.normpath(name)
        if relative.startswith(("/", "../")) or relative in (".", ".."):
            continue
        path = execute_dir / relative
        try:
            # The tests could write in the run directory: a link there must not lead out of it.
            inside = path.resolve().is_relative_to(execute_dir.resolve())
            if inside and path.is_file() and not path.is_symlink():
                return path.read_text(encoding="utf-8", errors="replace")[-MAX_LOG_CHARS:]
        except (OSError, ValueError):
            continue  # a name no file can have (a NUL byte, too long)
    return ""


def _seconds(value: Any) -> float:
    match = _DURATION.fullmatch(str(value or "").strip())
    if match is None:
        return 0.0
    hours, minutes, seconds = (int(part) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)
