"""The CI messages 1.x of a test stage: what today's ResultsDB listener, Greenwave and Bodhi read.

With ``[bus] formats`` holding ``fedora-ci``, each state of a test stage is announced twice, in the
same transaction and so in order: the ci-pipeline message, unchanged, then the CI messages 1.x one
(``<prefix>.<env>.ci.<artifact>.test.<state>``). Package stages test a ``koji-build`` artifact,
compose and image stages a ``productmd-compose``:

=========== ================= =========== ========
stage       artifact          category    provider
=========== ================= =========== ========
functional  koji-build        functional  chroot
integration productmd-compose integration chroot
smoke       productmd-compose validation  qemu
e2e         productmd-compose validation  qemu
=========== ================= =========== ========

A stage that ends is ``test.complete`` with ``test.result`` passed, failed, needs_inspection, info
or not_applicable (:func:`test_result`), or ``test.error`` when the tests could not give a verdict:
the stage was aborted, the machinery failed, or it failed with no failing test (a test in ERROR,
an invalid plan). The schemas are in ``schemas/fedora-ci/``, written from the specification.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.messages.builders import encode_body_message
from ci_pipeline.messages.fields import PLACEHOLDER
from ci_pipeline.messages.topics import Stage, State, Status, fedora_ci_topic

#: The ``[bus] formats`` name of the CI messages 1.x.
FEDORA_CI_FORMAT = "fedora-ci"
#: The version of the CI messages format the bodies follow (the ``version`` field).
FORMAT_VERSION = "1.0.0"


@dataclass(frozen=True)
class TestStage:
    """How a test stage is described in the CI messages 1.x."""

    artifact: str
    category: str
    provider: str


TEST_STAGES: dict[Stage, TestStage] = {
    Stage.FUNCTIONAL: TestStage("koji-build", "functional", "chroot"),
    Stage.INTEGRATION: TestStage("productmd-compose", "integration", "chroot"),
    Stage.SMOKE: TestStage("productmd-compose", "validation", "qemu"),
    Stage.E2E: TestStage("productmd-compose", "validation", "qemu"),
}


@dataclass(frozen=True)
class StageReport:
    """One state of one test stage of a run: what its CI messages 1.x body is made from."""

    run_id: int
    stage: Stage
    state: State
    fields: Mapping[str, str]
    status: Status = Status.SUCCESS
    reason: str = ""
    #: The tests the stage reported (TestCaseResult fields); read when it is complete.
    tests: Sequence[Mapping[str, Any]] = ()
    #: The machinery failed rather than the work.
    infrastructure: bool = False
    #: The URL of the stage's JUnit report, when it wrote one.
    xunit_url: str = ""


def enabled(config: Config) -> bool:
    """Whether the configuration asks for the CI messages 1.x."""
    return FEDORA_CI_FORMAT in config.bus.formats


def test_result(
    status: Status, tests: Sequence[Mapping[str, Any]], infrastructure: bool = False
) -> str | None:
    """The ``test.result`` of a complete stage, or None when it is a ``test.error`` (no verdict)."""
    if status == Status.ABORTED or infrastructure:
        return None
    outcomes = {str(test.get("outcome", "")) for test in tests}
    if status == Status.FAILURE:
        if "FAILED" in outcomes:
            return "failed"
        if "NEEDS_INSPECTION" in outcomes:
            return "needs_inspection"
        return None  # it failed, yet no test did: the tests could not run
    ran = outcomes - {"SKIPPED"}
    if not ran:
        return "not_applicable"
    return "info" if ran == {"INFO"} else "passed"


def topic_state(report: StageReport) -> str:
    """The state word of the report's topic: queued, running, complete or error."""
    if report.state != State.COMPLETE:
        return str(report.state)
    return "complete" if test_result(report.status, report.tests, report.infrastructure) else "error"


def build_body(
    config: Config, report: StageReport, now: datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """The topic suffix and body of the report's CI messages 1.x message."""
    kind = TEST_STAGES[report.stage]
    state = topic_state(report)
    base_url = config.web_base_url
    build_url = _known(report.fields, "build_url") or f"{base_url}/runs/{report.run_id}"
    body: dict[str, Any] = {
        "contact": _contact(config),
        "run": {
            "url": build_url,
            "log": f"{base_url}/api/v1/runs/{report.run_id}/stages/{report.stage}/log",
            "log_stream": f"{base_url}/api/v1/runs/{report.run_id}/stages/{report.stage}/log/stream",
        },
        "artifact": _artifact(config, kind, report),
        "pipeline": {
            "id": f"ci-pipeline-run-{report.run_id}-{report.stage}",
            "name": f"ci-pipeline {report.stage}",
            **({"build": build_id} if (build_id := _known(report.fields, "build_id")) else {}),
        },
        "test": {
            "category": kind.category,
            "namespace": config.fedora_ci.test_namespace,
            "type": str(report.stage),
        },
    }
    if state == "complete":
        body["test"]["result"] = test_result(report.status, report.tests, report.infrastructure)
        body["test"]["runtime"] = round(sum(_duration(test) for test in report.tests), 3)
        if report.xunit_url:
            body["test"]["xunit"] = report.xunit_url
        body["system"] = [_system(config, kind, report.fields)]
    elif state == "error":
        reason = report.reason or f"The {report.stage} stage ended {report.status} without a verdict."
        body["error"] = {"reason": reason[:4000]}
    moment = now or datetime.now(UTC)
    body["generated_at"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body["version"] = FORMAT_VERSION
    return f"{kind.artifact}.test.{state}", body


def encode_stage_message(config: Config, report: StageReport) -> tuple[str, bytes]:
    """The topic and bytes of the report's validated CI messages 1.x message."""
    suffix, body = build_body(config, report)
    topic = fedora_ci_topic(config.bus.topic_prefix, config.bus.environment, suffix)
    return topic, encode_body_message(topic, body)


def _known(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    return "" if value in ("", PLACEHOLDER) else str(value)


def _contact(config: Config) -> dict[str, str]:
    settings = config.fedora_ci
    contact = {
        "name": settings.contact_name,
        "team": settings.contact_team,
        "docs": settings.contact_docs or config.web_base_url,
        "email": settings.contact_email,
        "url": config.web_base_url,
    }
    if settings.contact_irc:
        contact["irc"] = settings.contact_irc
    return contact


def _artifact(config: Config, kind: TestStage, report: StageReport) -> dict[str, Any]:
    fields = report.fields
    if kind.artifact == "koji-build":
        task = _known(fields, "koji_task_id")
        return {
            "type": "koji-build",
            # A build of ci-pipeline's own has no Koji task: the run's number stands for it.
            "id": int(task) if re.fullmatch(r"[0-9]{1,15}", task) and int(task) > 0 else report.run_id,
            "issuer": _known(fields, "koji_owner") or _known(fields, "username") or config.pipeline.username,
            "component": _known(fields, "repo"),
            "nvr": _known(fields, "nvr") or _known(fields, "original_spec_nvr"),
            "scratch": _known(fields, "koji_scratch") == "true",
        }
    compose = _known(fields, "compose_rev") or f"run-{report.run_id}"
    ref = _known(fields, "ref")
    return {
        "type": "productmd-compose",
        "id": f"{ref}@{compose}" if ref else compose,
        # Every compose ci-pipeline makes is one to test a change, never a release.
        "compose_type": "test",
    }


def _system(config: Config, kind: TestStage, fields: Mapping[str, str]) -> dict[str, str]:
    branch = _known(fields, "branch")
    return {
        "os": _known(fields, "ref") or branch or "unknown",
        "provider": kind.provider,
        "architecture": config.pipeline.arch,
    }


def _duration(test: Mapping[str, Any]) -> float:
    try:
        value = float(test.get("duration", 0.0) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return value if 0 <= value < 1e9 else 0.0
