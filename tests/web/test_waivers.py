"""The WaiverDB-compatible API: create, list and filter, get one, revoke; and gating honouring it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from web_fixtures import NVR

from ci_pipeline.errors import UsageError
from ci_pipeline.web.api_waivers import TOKEN_USER, subject_from_dict

WAIVERS = "/api/v1.0/waivers/"


def waiver(testcase: str = "ci-pipeline.compose", **changes: Any) -> dict[str, Any]:
    """A waiver body for the fixture run's build."""
    body: dict[str, Any] = {
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "testcase": testcase,
        "product_version": "fedora-26",
        "waived": True,
        "comment": "The compose is not built for this branch.",
    }
    return {**body, **changes}


def test_creating_a_waiver_needs_the_token(any_client: httpx.Client, auth: dict[str, str]) -> None:
    refused = any_client.post(WAIVERS, json=waiver())
    assert refused.status_code == 401 and "token" in refused.json()["message"]
    wrong = any_client.post(WAIVERS, json=waiver(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert any_client.get(WAIVERS).json()["data"] == []
    created = any_client.post(WAIVERS, json=waiver(), headers=auth)
    assert created.status_code == 201
    body = created.json()
    assert body["id"] > 0 and body["waived"] is True and body["scenario"] is None
    assert (body["username"], body["proxied_by"]) == (TOKEN_USER, None)
    assert body["subject"] == {"type": "koji_build", "item": NVR}
    assert any_client.get(f"{WAIVERS}{body['id']}").json() == body
    assert any_client.get(f"{WAIVERS}{body['id'] + 1000}").status_code == 404


def test_a_username_in_the_body_is_proxied_by_the_token_user(
    any_client: httpx.Client, auth: dict[str, str]
) -> None:
    body = any_client.post(WAIVERS, json=waiver(username="alice"), headers=auth).json()
    assert (body["username"], body["proxied_by"]) == ("alice", TOKEN_USER)
    assert [w["id"] for w in any_client.get(WAIVERS, params={"proxied_by": TOKEN_USER}).json()["data"]] == [
        body["id"]
    ]
    assert any_client.get(WAIVERS, params={"username": "bob"}).json()["data"] == []


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ({"type": "koji_build", "item": NVR}, ("koji_build", NVR)),
        ({"type": "brew-build", "item": NVR}, ("koji_build", NVR)),
        ({"original_spec_nvr": "ci-calc-1.0-1.fc26"}, ("koji_build", "ci-calc-1.0-1.fc26")),
        ({"productmd.compose.id": "Fedora-26-20170101.0"}, ("compose", "Fedora-26-20170101.0")),
        ({"type": "bodhi_update", "item": "FEDORA-2017-abc"}, ("bodhi_update", "FEDORA-2017-abc")),
    ],
)
def test_the_older_subject_dict_names_the_subject(
    any_client: httpx.Client, auth: dict[str, str], subject: dict[str, str], expected: tuple[str, str]
) -> None:
    body = {key: value for key, value in waiver().items() if not key.startswith("subject_")}
    created = any_client.post(WAIVERS, json={**body, "subject": subject}, headers=auth)
    assert created.status_code == 201, created.text
    assert (created.json()["subject_type"], created.json()["subject_identifier"]) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"subject": {"type": "koji_build", "item": NVR}},  # both forms at once
        {"subject_identifier": None},
        {"subject_type": None, "subject_identifier": None, "subject": {"item": 3}},
        {"comment": ""},
        {"product_version": None},
        {"waived": "maybe"},
        {"testcase": "x" * 256},
    ],
)
def test_a_bad_waiver_is_one_clear_sentence(
    any_client: httpx.Client, auth: dict[str, str], change: dict[str, Any]
) -> None:
    body = {key: value for key, value in waiver(**change).items() if value is not None}
    refused = any_client.post(WAIVERS, json=body, headers=auth)
    assert refused.status_code == 400
    message = refused.json()["message"]
    assert message.endswith(".") and "Traceback" not in message
    assert any_client.get(WAIVERS).json()["data"] == []


@given(st.dictionaries(st.sampled_from(["type", "item", "original_spec_nvr", "productmd.compose.id", "x"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=300))))
def test_any_subject_dict_is_a_subject_or_a_usage_error(subject: dict[str, Any]) -> None:
    try:
        kind, identifier = subject_from_dict(subject)
    except UsageError as exc:
        assert str(exc).endswith(".")
    else:
        assert kind and identifier and len(identifier) <= 255
        assert identifier in subject.values()


def test_a_list_creates_several_waivers(any_client: httpx.Client, auth: dict[str, str]) -> None:
    created = any_client.post(WAIVERS, json=[waiver("a.test"), waiver("b.test")], headers=auth)
    assert created.status_code == 201
    assert [w["testcase"] for w in created.json()] == ["a.test", "b.test"]
    assert any_client.post(WAIVERS, json=[], headers=auth).status_code == 400


def test_listing_filters_and_pages_as_waiverdb(any_client: httpx.Client, auth: dict[str, str]) -> None:
    for number in range(5):
        any_client.post(WAIVERS, json=waiver(f"test.{number}"), headers=auth)
    any_client.post(WAIVERS, json=waiver("test.0", product_version="fedora-27"), headers=auth)
    any_client.post(WAIVERS, json=waiver(subject_identifier="other-1-1.fc26"), headers=auth)
    first = any_client.get(WAIVERS, params={"subject_identifier": NVR, "limit": 2}).json()
    assert [w["testcase"] for w in first["data"]] == ["test.0", "test.4"]  # newest first
    assert first["prev"] is None and "page=1" in first["first"] and "page=3" in first["last"]
    second = any_client.get(first["next"]).json()
    assert [w["testcase"] for w in second["data"]] == ["test.3", "test.2"]
    assert "page=1" in second["prev"] and "subject_identifier=" in second["next"]
    last = any_client.get(second["next"]).json()
    assert [w["testcase"] for w in last["data"]] == ["test.1", "test.0"] and last["next"] is None
    by = {
        "testcase": ("test.0", 2),
        "product_version": ("fedora-27", 1),
        "subject_type": ("compose", 0),
        "username": (TOKEN_USER, 7),
    }
    for key, (value, count) in by.items():
        assert len(any_client.get(WAIVERS, params={key: value, "limit": 50}).json()["data"]) == count, key
    assert any_client.get(WAIVERS, params={"page": 0}).status_code == 400
    assert any_client.get(WAIVERS, params={"limit": "many"}).status_code == 400
    assert any_client.get(WAIVERS, params={"since": "yesterday"}).status_code == 400


def test_since_and_until_bound_the_time(any_client: httpx.Client, auth: dict[str, str]) -> None:
    made = any_client.post(WAIVERS, json=waiver(), headers=auth).json()["timestamp"]
    assert len(any_client.get(WAIVERS, params={"since": made}).json()["data"]) == 1
    assert any_client.get(WAIVERS, params={"since": "2999-01-01T00:00:00"}).json()["data"] == []
    assert any_client.get(WAIVERS, params={"until": "2000-01-01T00:00:00"}).json()["data"] == []
    window = f"2000-01-01T00:00:00,{made}"
    assert len(any_client.get(WAIVERS, params={"since": window}).json()["data"]) == 1


def test_a_revoking_waiver_hides_the_one_it_replaces(any_client: httpx.Client, auth: dict[str, str]) -> None:
    first = any_client.post(WAIVERS, json=waiver(), headers=auth).json()
    revoking = waiver(waived=False, comment="Not any more.")
    revoked = any_client.post(WAIVERS, json=revoking, headers=auth).json()
    current = any_client.get(WAIVERS).json()["data"]
    assert [(w["id"], w["waived"]) for w in current] == [(revoked["id"], False)]
    every = any_client.get(WAIVERS, params={"include_obsolete": "true"}).json()["data"]
    assert [w["id"] for w in every] == [revoked["id"], first["id"]]


ASK = {
    "decision_context": "bodhi_update_push_stable",
    "verbose": True,  # waivers are in the answer only when asked for, as Greenwave answers
    "product_version": "fedora-26",
    "subject_type": "koji_build",
    "subject_identifier": NVR,
}


def test_a_waiver_satisfies_a_requirement_until_it_is_revoked(
    any_client: httpx.Client, auth: dict[str, str]
) -> None:
    optin = {"test_cases": ["ci-pipeline.functional", "ci-pipeline.compose"]}
    assert any_client.put("/api/v1/gating/packages/ci-calc", json=optin, headers=auth).status_code == 200
    before = any_client.post("/api/v1.0/decision", json=ASK).json()
    assert before["policies_satisfied"] is False and before["waivers"] == []
    assert [r["type"] for r in before["unsatisfied_requirements"]] == ["test-result-missing"]
    other_version = waiver(product_version="fedora-27")
    assert any_client.post(WAIVERS, json=other_version, headers=auth).status_code == 201
    assert any_client.post("/api/v1.0/decision", json=ASK).json()["policies_satisfied"] is False
    made = any_client.post(WAIVERS, json=waiver(), headers=auth).json()
    after = any_client.post("/api/v1.0/decision", json=ASK).json()
    assert after["policies_satisfied"] is True and after["unsatisfied_requirements"] == []
    waived = [r for r in after["satisfied_requirements"] if r["type"].endswith("-waived")]
    assert [(r["type"], r["testcase"], r["waiver_id"]) for r in waived] == [
        ("test-result-missing-waived", "ci-pipeline.compose", made["id"])
    ]
    assert [w["id"] for w in after["waivers"]] == [made["id"]]
    any_client.post(WAIVERS, json=waiver(waived=False, comment="Revoked."), headers=auth)
    revoked = any_client.post("/api/v1.0/decision", json=ASK).json()
    assert revoked["policies_satisfied"] is False and revoked["waivers"] == []


def test_a_waiver_of_a_scenario_waives_only_that_scenario(
    any_client: httpx.Client, auth: dict[str, str]
) -> None:
    optin = {"test_cases": ["ci-pipeline.compose"]}
    any_client.put("/api/v1/gating/packages/ci-calc", json=optin, headers=auth)
    any_client.post(WAIVERS, json=waiver(scenario="x86_64.uefi"), headers=auth)
    # Requirements of the pipeline's own test cases have no scenario: that waiver is not theirs.
    assert any_client.post("/api/v1.0/decision", json=ASK).json()["policies_satisfied"] is False


def test_the_collection_answers_without_its_slash_too(any_client: httpx.Client, auth: dict[str, str]) -> None:
    created = any_client.post("/api/v1.0/waivers", json=waiver(), headers=auth)
    assert created.status_code == 201
    assert [w["id"] for w in any_client.get("/api/v1.0/waivers").json()["data"]] == [created.json()["id"]]
    assert any_client.get(f"{WAIVERS}{2**63}").status_code == 400
