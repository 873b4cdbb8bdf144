"""Greenwave-style policies and the /api/v1.0/decision endpoint."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from web_fixtures import NVR, add_finished_run

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.store.db import Store
from ci_pipeline.web.gating import PassingTestCaseRule, package_of, parse_policies
from ci_pipeline.web.server import start_web_server

POLICY = """
--- !Policy
id: calc
product_versions: [fedora-*]
decision_context: bodhi_update_push_stable
subject_type: koji_build
packages: [ci-calc]
rules:
  - !PassingTestCaseRule {test_case_name: ci-pipeline.functional}
"""


def test_policy_yaml_is_read() -> None:
    (policy,) = parse_policies(POLICY)
    assert policy.rules == (PassingTestCaseRule("ci-pipeline.functional"),)
    assert policy.applies_to("bodhi_update_push_stable", "fedora-26", "koji_build", "ci-calc")
    assert not policy.applies_to("bodhi_update_push_stable", "epel-7", "koji_build", "ci-calc")


@pytest.mark.parametrize(
    "text", ["--- !Policy\nrules: []\n", "--- !Policy\nid: x\nrules: [1]\n", "- a\n", ": :"]
)
def test_bad_policies_are_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_policies(text)


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    try:
        policies = parse_policies(text)
    except ConfigError as exc:
        assert str(exc)
    else:
        assert all(policy.id for policy in policies)


def test_package_of_subjects() -> None:
    assert package_of("koji_build", NVR) == "ci-calc"
    assert package_of("koji_build", "vim@abc") == "vim"


def test_opt_in_gates_a_package(client: httpx.Client, auth: dict[str, str]) -> None:
    ask = {
        "decision_context": "bodhi_update_push_stable",
        "product_version": "fedora-26",
        "subject_type": "koji_build",
        "subject_identifier": NVR,
    }
    assert client.post("/api/v1.0/decision", json=ask).status_code == 404
    assert client.put("/api/v1/gating/packages/ci-calc", json={}).status_code == 401
    optin = {"test_cases": ["ci-pipeline.functional", "ci-pipeline.compose"]}
    assert client.put("/api/v1/gating/packages/ci-calc", json=optin, headers=auth).status_code == 200
    decision = client.post("/api/v1.0/decision", json=ask).json()
    assert decision["policies_satisfied"] is False
    assert [r["testcase"] for r in decision["satisfied_requirements"]] == ["ci-pipeline.functional"]
    assert decision["unsatisfied_requirements"][0]["type"] == "test-result-missing"
    assert decision["summary"] == "1 of 2 required test results missing"
    client.put("/api/v1/gating/packages/ci-calc", json={"test_cases": ["ci-pipeline.build"]}, headers=auth)
    assert client.post("/api/v1.0/decision", json=ask).json()["policies_satisfied"] is True
    assert client.delete("/api/v1/gating/packages/ci-calc", headers=auth).status_code == 200


def test_packages_opted_in_by_configuration_are_gated(web_config: Config, sqlite_store: Store) -> None:
    web = web_config.web.model_copy(update={"gated_packages": ["ci-calc"]})
    add_finished_run(sqlite_store, web_config)
    server = start_web_server(web_config.model_copy(update={"web": web}), sqlite_store)
    ask = {
        "decision_context": "bodhi_update_push_stable",
        "product_version": "fedora-26",
        "subject_type": "koji_build",
        "subject_identifier": NVR,
    }
    try:
        answer = httpx.post(f"http://127.0.0.1:{server.port}/api/v1.0/decision", json=ask)
    finally:
        server.stop()
    decision = answer.json()
    assert answer.status_code == 200 and decision["applicable_policies"] == ["opt-in:ci-calc"]
    satisfied = sorted(r["testcase"] for r in decision["satisfied_requirements"])
    assert satisfied == ["ci-pipeline.build", "ci-pipeline.functional"]
    assert decision["policies_satisfied"] is True


EXAMPLES = Path(__file__).parent.parent / "data" / "gating" / "greenwave-examples.yaml"


def test_decisions_in_greenwave_request_forms(web_config: Config, sqlite_store: Store) -> None:
    add_finished_run(sqlite_store, web_config)
    server = start_web_server(web_config, sqlite_store, policy_file=EXAMPLES)
    url = f"http://127.0.0.1:{server.port}/api/v1.0/decision"
    ask = {
        "decision_context": ["bodhi_update_push_stable", "cvp_default"],
        "product_version": "fedora-26",
        "subject": [{"type": "koji_build", "item": NVR}],
        "verbose": True,
    }
    try:
        answer = httpx.post(url, json=ask)
        refused = httpx.post(url, json={**ask, "decision_context": 3})
        nothing = httpx.post(url, json={**ask, "product_version": "epel-7"})
    finally:
        server.stop()
    decision = answer.json()
    assert answer.status_code == 200
    assert decision["applicable_policies"] == ["taskotron_release_critical_tasks"]
    assert decision["summary"] == "3 of 3 required test results missing"
    assert decision["results"] == [] and decision["waivers"] == []
    assert refused.status_code == 400 and "decision_context" in refused.json()["message"]
    assert nothing.status_code == 404 and "Found no applicable policies" in nothing.json()["message"]
