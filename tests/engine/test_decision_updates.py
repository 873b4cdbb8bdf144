"""A stage's end announces the gating decisions its result changes, once per change, in the run's order."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.gating.updates import announce_stage_decisions, configured_policies
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store

from .helpers import add_run, command_pipeline, drive
from .test_core import make_engine

NVR = "vim-1-1.fc26"
BUILD_OUTPUTS = f'echo "NVR={NVR}" >> "$CI_PIPELINE_OUTPUTS"'


def gated(config: Config, **web: Any) -> Config:
    """``config`` with ``[web]`` keys replaced."""
    return config.model_copy(update={"web": config.web.model_copy(update=web)})


def decision_updates(bus: Bus) -> list[dict[str, Any]]:
    """The bodies of the decision changes on the bus, in bus order."""
    return [
        json.loads(delivery.payload)["msg"]
        for delivery in bus.replay()
        if delivery.topic == "org.centos.prod.greenwave.decision.update"
    ]


def test_each_stage_end_that_changes_the_decision_announces_it_once(
    config: Config, store: Store, bus: Bus
) -> None:
    run_id = add_run(store)
    pipeline = command_pipeline({"build": BUILD_OUTPUTS})
    drive(make_engine(gated(config, gated_packages=["vim"]), store, bus, pipeline=pipeline), bus)
    first, second = decision_updates(bus)
    assert (first["subject_identifier"], first["product_version"]) == (NVR, "fedora-26")
    assert first["previous"] is None and first["policies_satisfied"] is False
    assert [r["testcase"] for r in first["satisfied_requirements"]] == ["ci-pipeline.build"]
    assert [r["type"] for r in first["unsatisfied_requirements"]] == ["test-result-missing"]
    assert second["policies_satisfied"] is True and second["previous"]["policies_satisfied"] is False
    topics = [delivery.topic for delivery in bus.replay()]
    # Announced right after the stage's complete message, in the same transaction.
    build_end = topics.index("org.centos.prod.ci.pipeline.package.complete")
    assert topics[build_end + 1].endswith("greenwave.decision.update")
    with store.session() as session:
        run = q.get_run(session, run_id)
        rows = q.stages_of(session, run_id)
        # Asked again at the same stage's end, nothing has changed: nothing is announced.
        assert announce_stage_decisions(session, gated(config, gated_packages=["vim"]), run, rows[1]) == 0


def test_no_policy_no_announcement(config: Config, store: Store, bus: Bus) -> None:
    add_run(store)
    drive(make_engine(config, store, bus, pipeline=command_pipeline({"build": BUILD_OUTPUTS})), bus)
    assert decision_updates(bus) == []


def test_the_policy_file_gates_and_a_broken_one_gates_nothing(
    config: Config, store: Store, bus: Bus, tmp_path: Path
) -> None:
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        "--- !Policy\nid: vim-functional\nproduct_versions: [fedora-*]\n"
        "decision_context: bodhi_update_push_testing\nsubject_type: koji_build\n"
        "rules:\n  - !PassingTestCaseRule {test_case_name: ci-pipeline.functional}\n"
    )
    with_file = gated(config, policy_file=str(policy))
    assert [p.id for p in configured_policies(with_file)] == ["vim-functional"]
    add_run(store)
    drive(make_engine(with_file, store, bus, pipeline=command_pipeline({"build": BUILD_OUTPUTS})), bus)
    first, second = decision_updates(bus)
    assert first["decision_context"] == "bodhi_update_push_testing"
    assert (first["policies_satisfied"], second["policies_satisfied"]) == (False, True)
    policy.write_text("--- !Policy\nrules: [\n")
    assert configured_policies(with_file) == []


def test_a_decision_the_contract_cannot_carry_is_logged_and_the_run_goes_on(
    config: Config, store: Store, bus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        f"--- !Policy\nid: long\nproduct_versions: [fedora-*]\ndecision_context: {'c' * 101}\n"
        "rules:\n  - !PassingTestCaseRule {test_case_name: ci-pipeline.functional}\n"
    )
    run_id = add_run(store)
    engine = make_engine(gated(config, policy_file=str(policy)), store, bus,
                         pipeline=command_pipeline({"build": BUILD_OUTPUTS}))
    with caplog.at_level(logging.WARNING, logger="ci_pipeline.gating.updates"):
        drive(engine, bus)
    assert decision_updates(bus) == []
    assert "is not announced" in caplog.text and "decision_context" in caplog.text
    with store.session() as session:
        assert q.get_run(session, run_id).status == "SUCCESS"
