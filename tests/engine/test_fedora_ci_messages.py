"""With the CI messages 1.x format on, each test stage state is announced twice, in order, and the
ci-pipeline messages stay exactly what they were."""

from __future__ import annotations

import json
from typing import Any

from ci_pipeline import stage_contract as contract
from ci_pipeline.bus.base import Bus
from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.errors import StageFailure
from ci_pipeline.executors.memory import MemoryExecutor
from ci_pipeline.messages.schema import validate_envelope
from ci_pipeline.stage_contract import StageContext, StageResult
from ci_pipeline.store.db import Store

from .helpers import add_run, command_pipeline, drive

VOLATILE = ("i", "timestamp", "msg_id")


def _build(ctx: StageContext) -> StageResult:
    return StageResult(outputs={"nvr": "vim-7.4.160-1.200.591b0d2.fc26"})


def _functional_fails(ctx: StageContext) -> StageResult:
    tests = [
        contract.TestCaseResult("smoke", "PASSED", 1.0), contract.TestCaseResult("regression", "FAILED", 2.0)
    ]
    raise StageFailure("1 of 2 tests failed: regression.", tests=tests)


def _functional_passes(ctx: StageContext) -> StageResult:
    return StageResult(summary="1 tests passed", tests=[contract.TestCaseResult("smoke", "PASSED", 1.0)])


def _run(config: Config, store: Store, functional: Any) -> list[dict[str, Any]]:
    bus: Bus = MemoryBus("memory://")
    add_run(store)
    executor = MemoryExecutor(2, script={"build": _build, "functional": functional})
    drive(Engine(config, store, bus, executor=executor, pipeline=command_pipeline()), bus)
    envelopes = [json.loads(delivery.payload) for delivery in bus.replay()]
    bus.close()
    return envelopes


def _with_formats(config: Config, *formats: str) -> Config:
    return config.model_copy(update={"bus": config.bus.model_copy(update={"formats": list(formats)})})


def _topics(envelopes: list[dict[str, Any]]) -> list[str]:
    return [envelope["topic"].removeprefix("org.centos.prod.ci.") for envelope in envelopes]


def test_both_formats_arrive_in_order_and_the_legacy_messages_do_not_change(
    config: Config, store: Store
) -> None:
    legacy_only = _run(config, store, _functional_passes)
    both = _run(_with_formats(config, "ci-pipeline", "fedora-ci"), store, _functional_passes)
    for envelope in both:
        validate_envelope(envelope)
    topics = _topics(both)
    assert topics[topics.index("pipeline.package.test.functional.queued"):][:6] == [
        "pipeline.package.test.functional.queued", "koji-build.test.queued",
        "pipeline.package.test.functional.running", "koji-build.test.running",
        "pipeline.package.test.functional.complete", "koji-build.test.complete",
    ]
    for legacy in ("compose.test.integration", "image.test.smoke", "image.test.e2e"):
        for state in ("queued", "running", "complete"):
            at = topics.index(f"pipeline.{legacy}.{state}")
            assert topics[at + 1] == f"productmd-compose.test.{state}"
    assert not any(topic.startswith(("koji-build", "productmd")) for topic in _topics(legacy_only))
    legacy_bodies = [e["msg"] for e in both if ".ci.pipeline." in e["topic"]]
    # The second run has its own build_id and build_url; everything else is the same message.
    first_run = [{k: v for k, v in e["msg"].items() if k not in ("build_id", "build_url", "rev")}
                 for e in legacy_only]
    assert [{k: v for k, v in body.items() if k not in ("build_id", "build_url", "rev")}
            for body in legacy_bodies] == first_run
    assert [e["topic"] for e in both if ".ci.pipeline." in e["topic"]] == [e["topic"] for e in legacy_only]
    assert all(set(e) - set(VOLATILE) == {"topic", "msg"} for e in both)
    complete = next(e["msg"] for e in both if e["topic"].endswith("koji-build.test.complete"))
    assert complete["test"]["result"] == "passed"
    assert complete["artifact"]["nvr"] == "vim-7.4.160-1.200.591b0d2.fc26"
    assert complete["run"]["url"] == both[0]["msg"]["build_url"]


def test_a_failing_functional_stage_is_a_failed_result(config: Config, store: Store) -> None:
    envelopes = _run(_with_formats(config, "ci-pipeline", "fedora-ci"), store, _functional_fails)
    for envelope in envelopes:
        validate_envelope(envelope)
    topics = _topics(envelopes)
    assert topics[-3:] == [
        "pipeline.package.test.functional.complete", "koji-build.test.complete", "pipeline.complete",
    ]
    complete = envelopes[-2]["msg"]
    assert (complete["test"]["result"], complete["test"]["runtime"]) == ("failed", 3.0)


def test_a_functional_stage_whose_tests_could_not_run_is_an_error(config: Config, store: Store) -> None:
    def broken(ctx: StageContext) -> StageResult:
        raise StageFailure("tmt could not run the plans: the plan /plans/x is invalid.",
                           tests=[contract.TestCaseResult("/plans/x (tmt error)", "ERROR")])

    envelopes = _run(_with_formats(config, "ci-pipeline", "fedora-ci"), store, broken)
    error = envelopes[-2]
    assert error["topic"] == "org.centos.prod.ci.koji-build.test.error"
    assert error["msg"]["error"]["reason"].startswith("tmt could not run the plans")
    validate_envelope(error)


def test_a_run_without_an_nvr_sends_no_koji_build_message_but_every_other(
    config: Config, store: Store
) -> None:
    bus: Bus = MemoryBus("memory://")
    add_run(store)
    engine = Engine(_with_formats(config, "ci-pipeline", "fedora-ci"), store, bus,
                    executor=MemoryExecutor(2), pipeline=command_pipeline())
    drive(engine, bus)
    topics = _topics([json.loads(delivery.payload) for delivery in bus.replay()])
    bus.close()
    assert "pipeline.package.test.functional.complete" in topics and topics[-1] == "pipeline.complete"
    assert not any(topic.startswith("koji-build") for topic in topics)
    assert "productmd-compose.test.complete" in topics
