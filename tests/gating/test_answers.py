"""Requirements in Greenwave's form, waivers, and the summary sentences."""

from __future__ import annotations

from typing import Any

import pytest

from ci_pipeline.gating.answers import Answer, Kind, answer_for_result, apply_waivers, summarize

NVR = "ci-calc-1.0-1.fc26"


def _answer(kind: Kind, testcase: str = "dist.rpmdeplint") -> Answer:
    return Answer(kind, testcase, "koji_build", NVR)


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        ("PASSED", "test-result-passed"),
        ("INFO", "test-result-passed"),
        ("FAILED", "test-result-failed"),
        ("NEEDS_INSPECTION", "test-result-failed"),
        ("ERROR", "test-result-errored"),
        ("QUEUED", "test-result-incomplete"),
        ("RUNNING", "test-result-incomplete"),
    ],
)
def test_each_outcome_answers_its_requirement_type(outcome: str, kind: str) -> None:
    result = {"id": 7, "outcome": outcome, "data": {"error_reason": ["kaboom"]}}
    answer = answer_for_result(result, "dist.rpmdeplint", "koji_build", NVR, "x86_64")
    body = answer.as_json()
    assert body["type"] == kind and body["result_id"] == 7 and body["scenario"] == "x86_64"
    assert body["subject_type"] == "koji_build" and body["subject_identifier"] == NVR
    assert body["item"] == {"type": "koji_build", "item": NVR}
    assert (body.get("error_reason") == "kaboom") is (outcome == "ERROR")
    assert answer.satisfied is (kind == "test-result-passed")


def test_no_result_is_missing() -> None:
    body = answer_for_result(None, "dist.rpmdeplint", "koji_build", NVR, None).as_json()
    assert body == {
        "type": "test-result-missing",
        "testcase": "dist.rpmdeplint",
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "scenario": None,
        "item": {"type": "koji_build", "item": NVR},
        "source": None,
    }


@pytest.mark.parametrize(
    ("kinds", "summary"),
    [
        ([], "No tests are required"),
        ([Kind.PASSED, Kind.PASSED], "All required tests passed"),
        ([Kind.PASSED, Kind.BLACKLISTED], "All required tests passed"),
        ([Kind.PASSED, Kind.FAILED], "1 of 2 required tests failed"),
        ([Kind.FAILED, Kind.FAILED, Kind.PASSED], "2 of 3 required tests failed"),
        ([Kind.MISSING, Kind.PASSED], "1 of 2 required test results missing"),
        ([Kind.ERRORED], "1 of 1 required tests errored"),
        ([Kind.INCOMPLETE, Kind.PASSED], "1 of 2 required tests incomplete"),
        ([Kind.FAILED, Kind.MISSING], "Of 2 required tests, 1 test failed, 1 result missing"),
        (
            [Kind.FAILED, Kind.FAILED, Kind.MISSING, Kind.MISSING, Kind.ERRORED],
            "Of 5 required tests, 2 tests failed, 1 test errored, 2 results missing",
        ),
        ([Kind.MISSING_YAML], "Of 1 required test, 1 missing gating.yaml"),
        ([Kind.INVALID_YAML, Kind.PASSED], "Of 2 required tests, 1 invalid gating.yaml"),
        ([Kind.FAILED_FETCH], "Of 1 required test, 1 gating.yaml fetch failed"),
    ],
)
def test_summary_sentences(kinds: list[Kind], summary: str) -> None:
    answers = [_answer(kind, f"t{n}") for n, kind in enumerate(kinds)]
    assert summarize(answers) == summary


def _waiver(testcase: str, **changes: Any) -> dict[str, Any]:
    waiver = {
        "id": 3,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "testcase": testcase,
        "scenario": None,
        "product_version": "fedora-26",
        "waived": True,
        "comment": "known",
        "username": "alice",
        "timestamp": "2026-11-29T10:00:00",
    }
    return {**waiver, **changes}


@pytest.mark.parametrize(
    "kind", [Kind.MISSING, Kind.FAILED, Kind.ERRORED, Kind.INCOMPLETE, Kind.MISSING_YAML]
)
def test_a_waiver_turns_an_unsatisfied_requirement_into_its_waived_form(kind: Kind) -> None:
    (waived,) = apply_waivers([_answer(kind, "t")], [_waiver("t")])
    assert waived.satisfied and waived.as_json()["type"] == f"{kind.value}-waived"
    assert waived.as_json()["waiver_id"] == 3
    assert summarize([waived]) == "All required tests passed"


@pytest.mark.parametrize(
    "changes",
    [
        {"waived": False},
        {"testcase": "other"},
        {"subject_identifier": "other-1-1"},
        {"subject_type": "bodhi_update"},
        {"scenario": "x86_64"},
    ],
)
def test_a_waiver_for_something_else_waives_nothing(changes: dict[str, Any]) -> None:
    (answer,) = apply_waivers([_answer(Kind.FAILED, "t")], [{**_waiver("t"), **changes}])
    assert not answer.satisfied and answer.type == "test-result-failed"


def test_invalid_gating_yaml_and_passed_results_are_not_waived() -> None:
    answers = [_answer(Kind.INVALID_YAML, "invalid-gating-yaml"), _answer(Kind.PASSED, "t")]
    waivers = [_waiver("invalid-gating-yaml"), _waiver("t")]
    assert [a.type for a in apply_waivers(answers, waivers)] == ["invalid-gating-yaml", "test-result-passed"]
