"""What a rule answers about a subject, in Greenwave's requirement form, and the summary sentence.

Every answer is one requirement: satisfied (``test-result-passed``, ``blacklisted``, a waived form)
or not (``test-result-missing``, ``-failed``, ``-errored``, ``-incomplete``, ``missing-gating-yaml``,
``invalid-gating-yaml``, ``failed-fetch-gating-yaml``). A waiver turns an unsatisfied test result (or
a missing gating.yaml) into its ``-waived`` form, which counts as satisfied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """A requirement's type, as Greenwave names it."""

    PASSED = "test-result-passed"
    BLACKLISTED = "blacklisted"
    MISSING = "test-result-missing"
    FAILED = "test-result-failed"
    ERRORED = "test-result-errored"
    INCOMPLETE = "test-result-incomplete"
    MISSING_YAML = "missing-gating-yaml"
    INVALID_YAML = "invalid-gating-yaml"
    FAILED_FETCH = "failed-fetch-gating-yaml"


SATISFIED = (Kind.PASSED, Kind.BLACKLISTED)
WAIVABLE = (Kind.MISSING, Kind.FAILED, Kind.ERRORED, Kind.INCOMPLETE, Kind.MISSING_YAML)
PASSING_OUTCOMES = ("PASSED", "INFO")
INCOMPLETE_OUTCOMES = ("QUEUED", "RUNNING")

#: How the summary counts each unsatisfied kind: (one, many).
_COUNTED = {
    Kind.FAILED: ("test failed", "tests failed"),
    Kind.ERRORED: ("test errored", "tests errored"),
    Kind.MISSING: ("result missing", "results missing"),
    Kind.INCOMPLETE: ("test incomplete", "tests incomplete"),
    Kind.MISSING_YAML: ("missing gating.yaml", "missing gating.yaml files"),
    Kind.INVALID_YAML: ("invalid gating.yaml", "invalid gating.yaml files"),
    Kind.FAILED_FETCH: ("gating.yaml fetch failed", "gating.yaml fetches failed"),
}
#: The ``N of M required ...`` form when every unsatisfied requirement is of one kind.
_ONLY = {
    Kind.FAILED: "tests failed",
    Kind.ERRORED: "tests errored",
    Kind.MISSING: "test results missing",
    Kind.INCOMPLETE: "tests incomplete",
}


@dataclass(frozen=True)
class Answer:
    """One requirement's answer about one subject."""

    kind: Kind
    testcase: str
    subject_type: str
    subject_identifier: str
    scenario: str | None = None
    result_id: int | None = None
    source: str | None = None
    #: Fields of this type only (``error``, ``details``, ``error_reason``), as (key, value) pairs.
    extra: tuple[tuple[str, Any], ...] = ()
    waiver_id: int | None = None

    @property
    def satisfied(self) -> bool:
        """Whether this requirement is met (passed, blacklisted or waived)."""
        return self.kind in SATISFIED or self.waiver_id is not None

    @property
    def type(self) -> str:
        """Greenwave's type word, with ``-waived`` for a waived requirement."""
        return f"{self.kind.value}-waived" if self.waiver_id is not None else self.kind.value

    def as_json(self) -> dict[str, Any]:
        """The requirement as Greenwave's decision lists it."""
        body: dict[str, Any] = {
            "type": self.type,
            "testcase": self.testcase,
            "subject_type": self.subject_type,
            "subject_identifier": self.subject_identifier,
            "scenario": self.scenario,
            # Greenwave keeps ``item`` for clients written before subject_type/subject_identifier.
            "item": {"type": self.subject_type, "item": self.subject_identifier},
        }
        if self.result_id is not None:
            body["result_id"] = self.result_id
        if self.source is not None or self.kind in (Kind.MISSING, Kind.FAILED_FETCH, Kind.MISSING_YAML):
            body["source"] = self.source
        if self.waiver_id is not None:
            body["waiver_id"] = self.waiver_id
        body.update(dict(self.extra))
        return body


def answer_for_result(
    result: Mapping[str, Any] | None,
    testcase: str,
    subject_type: str,
    identifier: str,
    scenario: str | None,
) -> Answer:
    """The answer a PassingTestCaseRule gives for the latest matching result (None: no result)."""
    base = Answer(Kind.MISSING, testcase, subject_type, identifier, scenario)
    if result is None:
        return base
    outcome = str(result.get("outcome", ""))
    with_result = replace(base, result_id=int(result["id"]))
    if outcome in PASSING_OUTCOMES:
        return replace(with_result, kind=Kind.PASSED)
    if outcome in INCOMPLETE_OUTCOMES:
        return replace(with_result, kind=Kind.INCOMPLETE)
    if outcome == "ERROR":
        reasons = result.get("data", {}).get("error_reason") or [None]
        return replace(with_result, kind=Kind.ERRORED, extra=(("error_reason", reasons[0]),))
    return replace(with_result, kind=Kind.FAILED)


def _waiver_matches(waiver: Mapping[str, Any], answer: Answer) -> bool:
    return (
        bool(waiver.get("waived"))
        and waiver.get("subject_type") == answer.subject_type
        and waiver.get("subject_identifier") == answer.subject_identifier
        and waiver.get("testcase") == answer.testcase
        and (not waiver.get("scenario") or waiver.get("scenario") == answer.scenario)
    )


def apply_waivers(answers: Sequence[Answer], waivers: Sequence[Mapping[str, Any]]) -> list[Answer]:
    """The answers with every waived unsatisfied requirement in its ``-waived`` form."""
    waived = []
    for answer in answers:
        if not answer.satisfied and answer.kind in WAIVABLE:
            match = next((w for w in waivers if _waiver_matches(w, answer)), None)
            if match is not None:
                answer = replace(answer, waiver_id=int(match.get("id") or 0))
        waived.append(answer)
    return waived


def summarize(answers: Sequence[Answer]) -> str:
    """Greenwave's one-sentence summary of a decision's answers."""
    if not answers:
        return "No tests are required"
    unsatisfied = [answer.kind for answer in answers if not answer.satisfied]
    if not unsatisfied:
        return "All required tests passed"
    total = len(answers)
    counts = {kind: unsatisfied.count(kind) for kind in _COUNTED if kind in unsatisfied}
    only = next(iter(counts)) if len(counts) == 1 else None
    if only in _ONLY:
        return f"{counts[only]} of {total} required {_ONLY[only]}"
    parts = [f"{count} {_COUNTED[kind][count > 1]}" for kind, count in counts.items()]
    return f"Of {total} required test{'s' if total > 1 else ''}, {', '.join(parts)}"
