"""Decision changes on the bus: a posted result or waiver that changes a decision is announced once."""

from __future__ import annotations

import json
from typing import Any

import httpx
from web_fixtures import NVR

from ci_pipeline.messages.schema import validate_envelope
from ci_pipeline.store import outbox
from ci_pipeline.store.db import Store

TOPIC = "org.centos.prod.greenwave.decision.update"
WAIVERS = "/api/v1.0/waivers/"


def updates(store: Store) -> list[dict[str, Any]]:
    """The bodies of every decision change in the outbox, oldest first (each checked against its schema)."""
    with store.session() as session:
        rows = list(outbox.newest_messages(session, topic_glob="*.greenwave.decision.update", limit=100))
    bodies = []
    for row in reversed(rows):
        envelope = json.loads(row.payload)
        assert row.topic == envelope["topic"] == TOPIC
        assert validate_envelope(envelope) == "greenwave.decision.update"
        bodies.append(envelope["msg"])
    return bodies


def result(testcase: str, outcome: str, item: str = NVR) -> dict[str, Any]:
    """A ResultsDB result about a build."""
    return {"testcase": testcase, "outcome": outcome, "data": {"item": item, "type": "koji_build"}}


def opt_in(client: httpx.Client, auth: dict[str, str], *test_cases: str) -> None:
    """Gate ci-calc's builds on ``test_cases``."""
    body = {"test_cases": list(test_cases)}
    answer = client.put("/api/v1/gating/packages/ci-calc", json=body, headers=auth)
    assert answer.status_code == 200


def test_a_posted_result_that_changes_the_decision_is_announced_once(
    any_client: httpx.Client, auth: dict[str, str], store: Store
) -> None:
    opt_in(any_client, auth, "ci-pipeline.functional", "dist.rpmdeplint")
    post = any_client.post
    failed = post("/api/v2.0/results", json=result("dist.rpmdeplint", "FAILED"), headers=auth)
    assert failed.status_code == 201
    [first] = updates(store)
    assert first["previous"] is None and first["policies_satisfied"] is False
    assert (first["decision_context"], first["product_version"]) == ("bodhi_update_push_stable", "fedora-26")
    assert first["subject"] == [{"item": NVR, "type": "koji_build"}]
    assert (first["subject_type"], first["subject_identifier"]) == ("koji_build", NVR)
    assert first["applicable_policies"] == ["opt-in:ci-calc"]
    assert [r["type"] for r in first["unsatisfied_requirements"]] == ["test-result-failed"]
    # Nothing changes: a result no policy requires, a subject no policy gates.
    post("/api/v2.0/results", json=result("dist.abicheck", "FAILED"), headers=auth)
    post("/api/v2.0/results", json=result("dist.rpmdeplint", "FAILED", item="vim-1-1.fc26"), headers=auth)
    post("/api/v2.0/results", json={"testcase": "dist.rpmdeplint", "outcome": "PASSED"}, headers=auth)
    assert len(updates(store)) == 1
    post("/api/v2.0/results", json=result("dist.rpmdeplint", "PASSED"), headers=auth)
    second = updates(store)[1]
    assert second["policies_satisfied"] is True and second["unsatisfied_requirements"] == []
    assert second["previous"] == {key: first[key] for key in second["previous"]}
    assert set(second["previous"]) == {
        "policies_satisfied", "summary", "applicable_policies", "satisfied_requirements",
        "unsatisfied_requirements",
    }


def test_a_waiver_that_changes_the_decision_is_announced_once(
    any_client: httpx.Client, auth: dict[str, str], store: Store
) -> None:
    opt_in(any_client, auth, "ci-pipeline.functional", "ci-pipeline.compose")
    body = {
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "testcase": "ci-pipeline.compose",
        "product_version": "fedora-26",
        "comment": "No compose on this branch.",
    }
    # A waiver of a test case no policy requires leaves the decision as it is, but it is the first
    # answer for this subject there, so it is announced with no previous one.
    any_client.post(WAIVERS, json={**body, "testcase": "dist.abicheck"}, headers=auth)
    [first] = updates(store)
    assert first["previous"] is None and first["policies_satisfied"] is False
    any_client.post(WAIVERS, json={**body, "testcase": "dist.abicheck", "comment": "Again."}, headers=auth)
    assert len(updates(store)) == 1
    any_client.post(WAIVERS, json=body, headers=auth)
    second = updates(store)[1]
    assert second["policies_satisfied"] is True and second["previous"]["policies_satisfied"] is False
    assert [r["type"] for r in second["satisfied_requirements"]][-1] == "test-result-missing-waived"
    any_client.post(WAIVERS, json={**body, "waived": False, "comment": "Revoked."}, headers=auth)
    third = updates(store)[2]
    assert third["policies_satisfied"] is False and third["previous"]["policies_satisfied"] is True
    assert len(updates(store)) == 3


def test_nothing_is_announced_without_policies(
    any_client: httpx.Client, auth: dict[str, str], store: Store
) -> None:
    any_client.post("/api/v2.0/results", json=result("dist.rpmdeplint", "FAILED"), headers=auth)
    body = {"subject_type": "koji_build", "subject_identifier": NVR, "testcase": "dist.rpmdeplint",
            "product_version": "fedora-26", "comment": "Known."}
    any_client.post(WAIVERS, json=body, headers=auth)
    assert updates(store) == []
