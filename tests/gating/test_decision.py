"""Decisions from the store's results, waivers and packages' gating.yaml, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ci_pipeline.gating import remote
from ci_pipeline.gating.decision import (
    DecisionRequest,
    Gate,
    NoApplicablePolicies,
    contexts_for,
    decide,
)
from ci_pipeline.gating.policies import parse_policies
from ci_pipeline.gating.remote import GatingYamlReader
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import utcnow

from .helpers import NVR, add_build, add_result, distgit_commit, distgit_template, policy_text

STABLE = ("bodhi_update_push_stable",)
EXAMPLES = parse_policies(policy_text("greenwave-examples.yaml"))
FEDORA = parse_policies(policy_text("fedora.yaml"))


def _ask(
    subject: tuple[str, str] = ("koji_build", NVR), contexts: tuple[str, ...] = STABLE, **more: Any
) -> DecisionRequest:
    return DecisionRequest(
        subjects=(subject,), decision_contexts=contexts, product_version="fedora-26", **more
    )


def _decide(
    store: Store, ask: DecisionRequest, gate: Gate, waivers: list[dict[str, Any]] | None = None
) -> Any:
    with store.session() as session:
        return decide(session, ask, waivers or [], gate)


def _types(decision: dict[str, Any]) -> dict[str, str]:
    every = decision["satisfied_requirements"] + decision["unsatisfied_requirements"]
    return {req["testcase"]: req["type"] for req in every}


def test_passing_test_case_rules(store: Store) -> None:
    old = utcnow() - timedelta(minutes=10)
    add_result(store, NVR, "dist.abicheck", "FAILED", at=old)
    passed = add_result(store, NVR, "dist.abicheck", "PASSED")
    add_result(store, NVR, "dist.rpmdeplint", "ERROR", data={"error_reason": "no machine"})
    decision = _decide(store, _ask(), Gate(EXAMPLES))
    assert decision["applicable_policies"] == ["taskotron_release_critical_tasks"]
    assert _types(decision) == {
        "dist.abicheck": "test-result-passed",
        "dist.rpmdeplint": "test-result-errored",
        "dist.upgradepath": "test-result-missing",
    }
    assert decision["satisfied_requirements"][0]["result_id"] == passed
    assert decision["unsatisfied_requirements"][0]["error_reason"] == "no machine"
    assert decision["policies_satisfied"] is False
    assert decision["summary"] == "Of 3 required tests, 1 test errored, 1 result missing"
    assert "results" not in decision


def test_when_sees_only_results_submitted_by_then(store: Store) -> None:
    then = utcnow() - timedelta(minutes=10)
    add_result(store, NVR, "dist.abicheck", "FAILED", at=then - timedelta(minutes=1))
    add_result(store, NVR, "dist.abicheck", "PASSED")
    decision = _decide(store, _ask(when=then), Gate(EXAMPLES))
    assert _types(decision)["dist.abicheck"] == "test-result-failed"
    assert _decide(store, _ask(), Gate(EXAMPLES))["summary"] == "2 of 3 required test results missing"


def test_incomplete_results_and_verbose(store: Store) -> None:
    running = add_result(store, NVR, "dist.abicheck", "RUNNING")
    add_result(store, "other-1-1.fc26", "dist.upgradepath", "PASSED")
    waiver = {
        "id": 9,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "testcase": "dist.upgradepath",
    }
    decision = _decide(store, _ask(verbose=True), Gate(EXAMPLES), [{**waiver, "waived": True}])
    assert _types(decision)["dist.abicheck"] == "test-result-incomplete"
    assert _types(decision)["dist.upgradepath"] == "test-result-missing-waived"
    assert [result["id"] for result in decision["results"]] == [running]
    assert decision["results"][0]["outcome"] == "RUNNING"
    assert [w["id"] for w in decision["waivers"]] == [9]
    assert decision["summary"] == "Of 3 required tests, 1 result missing, 1 test incomplete"


def test_waived_failures_satisfy_the_policy(store: Store) -> None:
    for testcase in ("dist.abicheck", "dist.rpmdeplint"):
        add_result(store, NVR, testcase, "FAILED")
    add_result(store, NVR, "dist.upgradepath", "PASSED")
    waivers = [
        {"id": n, "subject_type": "koji_build", "subject_identifier": NVR, "testcase": t, "waived": True}
        for n, t in enumerate(("dist.abicheck", "dist.rpmdeplint"), 1)
    ]
    decision = _decide(store, _ask(), Gate(EXAMPLES), waivers)
    assert decision["policies_satisfied"] is True
    assert decision["summary"] == "All required tests passed"
    assert sorted(r["type"] for r in decision["satisfied_requirements"]) == [
        "test-result-failed-waived",
        "test-result-failed-waived",
        "test-result-passed",
    ]


def test_blacklisted_packages_are_satisfied(store: Store) -> None:
    decision = _decide(store, _ask(("koji_build", "kernel-6.1-1.fc26")), Gate(EXAMPLES))
    assert set(_types(decision).values()) == {"blacklisted"} and decision["policies_satisfied"]


def test_packages_and_excluded_packages_choose_the_policies(store: Store) -> None:
    contexts = ("bodhi_update_push_stable_with_blocklist",)
    add_result(store, "python-six-1-1.fc26", "dist.depcheck", "PASSED")
    decision = _decide(store, _ask(("koji_build", "python-six-1-1.fc26"), contexts), Gate(EXAMPLES))
    assert decision["policies_satisfied"] and decision["summary"] == "All required tests passed"
    for excluded in ("python-requests-2-1.fc26", NVR):
        with pytest.raises(NoApplicablePolicies, match="Found no applicable policies for koji_build"):
            _decide(store, _ask(("koji_build", excluded), contexts), Gate(EXAMPLES))


def test_scenarios_choose_the_results(store: Store) -> None:
    update = ("bodhi_update", "FEDORA-2026-abc")
    netinst = "update.install_default_update_netinst"
    add_result(store, update[1], netinst, "FAILED", type="bodhi_update", data={"scenario": "other.scenario"})
    add_result(
        store,
        update[1],
        netinst,
        "PASSED",
        type="bodhi_update",
        data={"scenario": "fedora.updates-everything-boot-iso.x86_64.64bit"},
        at=utcnow() - timedelta(minutes=1),
    )
    ask = _ask(update, ("bodhi_update_push_testing_critical",))
    decision = _decide(store, ask, Gate(FEDORA))
    assert _types(decision) == {netinst: "test-result-passed", "update.base_selinux": "test-result-missing"}
    missing = decision["unsatisfied_requirements"][0]
    assert missing["scenario"] == "fedora.updates-server.x86_64.64bit"
    assert missing["subject_type"] == "bodhi_update" and missing["item"] == {
        "type": "bodhi_update",
        "item": update[1],
    }
    assert decision["summary"] == "1 of 2 required test results missing"


def test_a_compose_is_judged_per_architecture_and_variant(store: Store) -> None:
    compose = ("compose", "Fedora-Rawhide-20261129.n.0")
    testcase = "compose.install_no_user"
    scenario = {"scenario": "fedora.Server-dvd-iso.x86_64.64bit"}
    for arch, outcome in (("x86_64", "PASSED"), ("aarch64", "FAILED")):
        data = {**scenario, "system_architecture": arch, "system_variant": "Server"}
        add_result(store, compose[1], testcase, outcome, type="compose", data=data)
    ask = DecisionRequest(
        subjects=(compose,),
        decision_contexts=("rawhide_compose_sync_to_mirrors",),
        product_version="fedora-rawhide",
    )
    decision = _decide(store, ask, Gate(FEDORA))
    assert decision["summary"] == "1 of 2 required tests failed"
    assert [r["type"] for r in decision["satisfied_requirements"]] == ["test-result-passed"]


def test_many_subjects_and_contexts(store: Store) -> None:
    add_result(store, NVR, "dist.abicheck", "PASSED")
    ask = DecisionRequest(
        subjects=(("koji_build", NVR), ("redhat-container-image", "ubi-8-1")),
        decision_contexts=("bodhi_update_push_stable", "cvp_default"),
        product_version="cvp",
    )
    before = _decide(store, ask, Gate(EXAMPLES))
    assert before["summary"] == "1 of 1 required test results missing"
    add_result(
        store, "ubi-8-1", "cvp.redhat.default.container-verify", "PASSED", type="redhat-container-image"
    )
    decision = _decide(store, ask, Gate(EXAMPLES))
    assert decision["applicable_policies"] == ["osci_container_images"] and decision["policies_satisfied"]


@pytest.fixture
def distgit(tmp_path: Path) -> Path:
    """A directory of bare dist-git repositories."""
    return tmp_path / "git"


def _remote_gate(root: Path) -> Gate:
    return Gate(FEDORA, GatingYamlReader(distgit_template(root)))


def test_remote_rule_reads_the_packages_gating_yaml_at_the_builds_commit(store: Store, distgit: Path) -> None:
    first = distgit_commit(distgit, "ci-calc", {"gating.yaml": policy_text("package-gating.yaml")})
    distgit_commit(distgit, "ci-calc", {})  # a later commit without gating.yaml changes nothing for NVR
    add_build(store, NVR, "ci-calc", first)
    add_result(store, NVR, "fedora-ci.koji-build.tier0.functional", "PASSED")
    decision = _decide(store, _ask(), _remote_gate(distgit))
    assert decision["applicable_policies"] == [
        "taskotron_release_critical_tasks_for_stable",
        "taskotron_release_critical_tasks_with_remoterule",
    ]
    assert _types(decision) == {
        "fedora-ci.koji-build.tier0.functional": "test-result-passed",
        "dist.rpminspect": "test-result-missing",
    }
    source = decision["unsatisfied_requirements"][0]["source"]
    assert source == f"file://{distgit}/rpms/ci-calc.git"
    assert decision["summary"] == "1 of 2 required test results missing"


def test_missing_gating_yaml_fails_only_when_required(store: Store, distgit: Path) -> None:
    rev = distgit_commit(distgit, "ci-calc", {})
    add_build(store, NVR, "ci-calc", rev)
    decision = _decide(store, _ask(), _remote_gate(distgit))
    assert decision["policies_satisfied"] and decision["summary"] == "No tests are required"
    ask = DecisionRequest(
        subjects=(("koji_build", NVR),),
        decision_contexts=("bodhi_update_push_stable_required",),
        product_version="fedora-rawhide",
    )
    decision = _decide(store, ask, _remote_gate(distgit))
    (missing,) = decision["unsatisfied_requirements"]
    assert missing["type"] == missing["testcase"] == "missing-gating-yaml"
    assert decision["summary"] == "Of 1 required test, 1 missing gating.yaml"
    waiver = {"id": 1, "subject_type": "koji_build", "subject_identifier": NVR, "waived": True}
    waived = _decide(store, ask, _remote_gate(distgit), [{**waiver, "testcase": "missing-gating-yaml"}])
    assert waived["satisfied_requirements"][0]["type"] == "missing-gating-yaml-waived"


def test_invalid_gating_yaml(store: Store, distgit: Path) -> None:
    bad = "--- !Policy\nproduct_versions: [fedora-*]\ndecision_context: bodhi_update_push_stable\n"
    bad += "rules: [!Nope {}]\n"
    rev = distgit_commit(distgit, "ci-calc", {"gating.yaml": bad})
    add_build(store, NVR, "ci-calc", rev)
    (invalid,) = _decide(store, _ask(), _remote_gate(distgit))["unsatisfied_requirements"]
    assert invalid["type"] == "invalid-gating-yaml"
    assert "!Nope is not a rule" in invalid["details"]


def test_a_gating_yaml_that_cannot_be_fetched(store: Store, distgit: Path) -> None:
    (unknown,) = _decide(store, _ask(), _remote_gate(distgit))["unsatisfied_requirements"]
    assert unknown["type"] == "failed-fetch-gating-yaml" and "No run in the store built" in unknown["error"]
    add_build(store, NVR, "ci-calc", "b" * 40)
    decision = _decide(store, _ask(), _remote_gate(distgit))
    (failed,) = decision["unsatisfied_requirements"]
    assert failed["type"] == "failed-fetch-gating-yaml" and "cannot be read" in failed["error"]
    assert decision["summary"] == "Of 1 required test, 1 gating.yaml fetch failed"


def test_a_commit_that_is_not_plain_never_reaches_git(distgit: Path) -> None:
    reader = GatingYamlReader(distgit_template(distgit))
    assert reader.read("rpms", "ci-calc", "--upload-pack=touch /tmp/x").error
    assert reader.read("rpms", "../etc", "a" * 40).error


def test_contexts_for_a_subject() -> None:
    pairs = contexts_for("koji_build", NVR, Gate(FEDORA))
    assert pairs == [
        ("bodhi_update_push_testing", "fedora-26"),
        ("bodhi_update_push_stable", "fedora-26"),
    ]
    assert ("bodhi_update_push_stable_required", "fedora-rawhide") not in pairs
    assert contexts_for("compose", "Fedora-Rawhide-20261129.n.0", Gate(FEDORA)) == [
        ("rawhide_compose_sync_to_mirrors", "fedora-rawhide")
    ]


def test_an_oversized_gating_yaml_is_not_read(store: Store, distgit: Path) -> None:
    rev = distgit_commit(distgit, "ci-calc", {"gating.yaml": "# " + "x" * (1 << 20) + "\n"})
    add_build(store, NVR, "ci-calc", rev)
    (refused,) = _decide(store, _ask(), _remote_gate(distgit))["unsatisfied_requirements"]
    assert refused["type"] == "failed-fetch-gating-yaml" and "larger than" in refused["error"]


def test_a_dist_git_that_is_not_a_local_directory_is_fetched(distgit: Path) -> None:
    rev = distgit_commit(distgit, "ci-calc", {"gating.yaml": policy_text("package-gating.yaml")})
    # git's own file:// transport (fetch by commit id) stands for an https:// dist-git here.
    fetched = remote._read_remote(f"file://{distgit}/rpms/ci-calc.git", rev)
    assert fetched == policy_text("package-gating.yaml")
    later = distgit_commit(distgit, "ci-calc", {})
    assert remote._read_remote(f"file://{distgit}/rpms/ci-calc.git", later) is None
    with pytest.raises(remote.FetchError):
        remote._read_remote(f"file://{distgit}/rpms/nothing.git", later)
