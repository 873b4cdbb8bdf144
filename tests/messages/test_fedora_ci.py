"""The CI messages 1.x of the test stages: every topic built and validated, verdicts, schema rejections."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.config import Config, load_config
from ci_pipeline.errors import ConfigError, SchemaViolation
from ci_pipeline.messages import fedora_ci
from ci_pipeline.messages.envelope import make_envelope
from ci_pipeline.messages.fields import load_schema
from ci_pipeline.messages.schema import suffix_of, validate_body, validate_envelope
from ci_pipeline.messages.topics import FEDORA_CI_SUFFIXES, Stage, State, Status, fedora_ci_suffix

RUN_FIELDS = {
    "CI_NAME": "ci-pipeline-f26",
    "build_id": "7",
    "build_url": "http://ci.example/job/ci-pipeline-f26/7/",
    "username": "fedora-atomic",
    "repo": "vim",
    "rev": "591b0d2" + "0" * 33,
    "branch": "f26",
    "ref": "fedora/f26/x86_64/atomic-host",
    "nvr": "vim-7.4.160-1.200.591b0d2.fc26",
    "compose_rev": "ab" * 32,
}
OUTCOMES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "INFO", "NEEDS_INSPECTION")
tests_strategy = st.lists(
    st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=20), "outcome": st.sampled_from(OUTCOMES),
         "duration": st.floats(min_value=0, max_value=1e4)}
    ),
    max_size=6,
)


def _config(**fedora_ci_settings: str) -> Config:
    return Config.model_validate(
        {"bus": {"formats": ["ci-pipeline", "fedora-ci"]}, "fedora_ci": fedora_ci_settings}
    )


def _envelope(config: Config, report: fedora_ci.StageReport) -> dict[str, Any]:
    topic, payload = fedora_ci.encode_stage_message(config, report)
    envelope: dict[str, Any] = json.loads(payload)
    assert envelope["topic"] == topic
    return envelope


@pytest.mark.parametrize("suffix", FEDORA_CI_SUFFIXES)
def test_every_topic_is_sent_and_valid(suffix: str) -> None:
    artifact, _, state = suffix.partition(".test.")
    stage = Stage.FUNCTIONAL if artifact == "koji-build" else Stage.INTEGRATION
    status, tests = Status.SUCCESS, [{"name": "t", "outcome": "PASSED"}]
    if state == "error":
        status, tests = Status.ABORTED, []
    report = fedora_ci.StageReport(
        3, stage, State.COMPLETE if state in ("complete", "error") else State(state), RUN_FIELDS, status,
        "cancelled by a person", tests,
    )
    envelope = _envelope(_config(), report)
    assert envelope["topic"] == f"org.centos.prod.ci.{suffix}"
    assert validate_envelope(envelope) == f"fedora-ci/{suffix}"
    body = envelope["msg"]
    assert body["version"] == fedora_ci.FORMAT_VERSION
    assert body["run"]["log"] == f"http://127.0.0.1:8080/api/v1/runs/3/stages/{stage}/log"
    assert body["run"]["url"] == RUN_FIELDS["build_url"]
    assert body["test"]["namespace"] == "ci-pipeline"
    assert body["test"]["category"] == ("functional" if stage == Stage.FUNCTIONAL else "integration")
    if state == "error":
        assert body["error"] == {"reason": "cancelled by a person"}


def test_a_functional_body_names_the_build_and_the_contact_from_configuration() -> None:
    config = _config(contact_name="Example CI", contact_team="release engineering",
                     contact_docs="https://docs.example/ci", contact_email="ci@example.org",
                     contact_irc="#example-ci", test_namespace="example-ci.package")
    fields = {**RUN_FIELDS, "koji_task_id": "14546276", "koji_owner": "jdoe", "koji_scratch": "true"}
    report = fedora_ci.StageReport(
        3, Stage.FUNCTIONAL, State.COMPLETE, fields, Status.FAILURE, "1 of 2 tests failed",
        [{"name": "a", "outcome": "PASSED", "duration": 1.5},
         {"name": "b", "outcome": "FAILED", "duration": 2}],
        xunit_url="http://127.0.0.1:8080/artifacts/runs/3/functional/results.xml",
    )
    body = _envelope(config, report)["msg"]
    assert body["contact"] == {
        "name": "Example CI", "team": "release engineering", "docs": "https://docs.example/ci",
        "email": "ci@example.org", "url": "http://127.0.0.1:8080", "irc": "#example-ci",
    }
    assert body["artifact"] == {
        "type": "koji-build", "id": 14546276, "issuer": "jdoe", "component": "vim",
        "nvr": RUN_FIELDS["nvr"], "scratch": True,
    }
    assert body["test"] == {
        "category": "functional", "namespace": "example-ci.package", "type": "functional",
        "result": "failed", "runtime": 3.5, "xunit": report.xunit_url,
    }
    assert body["system"] == [{"os": RUN_FIELDS["ref"], "provider": "chroot", "architecture": "x86_64"}]
    assert body["pipeline"] == {"id": "ci-pipeline-run-3-functional", "name": "ci-pipeline functional",
                                "build": "7"}


@pytest.mark.parametrize(
    ("status", "outcomes", "infrastructure", "result"),
    [
        (Status.SUCCESS, ["PASSED", "SKIPPED"], False, "passed"),
        (Status.SUCCESS, ["INFO"], False, "info"),
        (Status.SUCCESS, ["INFO", "PASSED"], False, "passed"),
        (Status.SUCCESS, ["SKIPPED"], False, "not_applicable"),
        (Status.SUCCESS, [], False, "not_applicable"),
        (Status.FAILURE, ["PASSED", "FAILED", "ERROR"], False, "failed"),
        (Status.FAILURE, ["PASSED", "NEEDS_INSPECTION"], False, "needs_inspection"),
        (Status.FAILURE, ["ERROR"], False, None),
        (Status.FAILURE, [], False, None),
        (Status.FAILURE, ["FAILED"], True, None),
        (Status.ABORTED, ["PASSED"], False, None),
    ],
)
def test_the_verdict_of_a_complete_stage(
    status: Status, outcomes: list[str], infrastructure: bool, result: str | None
) -> None:
    tests = [{"name": o, "outcome": o} for o in outcomes]
    assert fedora_ci.test_result(status, tests, infrastructure) == result


name_part = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+]{0,20}", fullmatch=True)
run_fields = st.fixed_dictionaries(
    {
        "repo": name_part,
        "nvr": st.builds(lambda n, v, r: f"{n}-{v}-{r}", name_part, name_part, name_part),
        "build_url": st.from_regex(r"https?://[a-z0-9.-]{1,30}(:[0-9]{1,5})?/job/[a-z0-9-]{1,20}/[0-9]{1,6}/",
                                   fullmatch=True),
        "ref": st.from_regex(r"[a-z0-9]{1,10}/[a-z0-9]{1,10}/x86_64/[a-z-]{1,20}", fullmatch=True),
        "compose_rev": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    },
    optional={
        "build_id": st.integers(min_value=1, max_value=10**6).map(str),
        "koji_task_id": st.one_of(st.integers(min_value=0, max_value=2**40).map(str), st.text(max_size=5),
                                  st.just("\u00b2")),
        "koji_owner": st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True),
        "koji_scratch": st.sampled_from(["true", "false"]),
        "branch": st.sampled_from(["f26", "rawhide", "''"]),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    fields=run_fields,
    stage=st.sampled_from(sorted(fedora_ci.TEST_STAGES)),
    state=st.sampled_from(list(State)),
    status=st.sampled_from(list(Status)),
    tests=tests_strategy,
    infrastructure=st.booleans(),
    reason=st.text(max_size=50),
    run_id=st.integers(min_value=1, max_value=2**31),
)
def test_any_report_of_any_test_stage_validates(
    fields: dict[str, str], stage: Stage, state: State, status: Status, tests: list[dict[str, Any]],
    infrastructure: bool, reason: str, run_id: int,
) -> None:
    report = fedora_ci.StageReport(run_id, stage, state, fields, status, reason, tests, infrastructure)
    envelope = _envelope(_config(), report)
    name = validate_envelope(envelope)
    expected = fedora_ci.TEST_STAGES[stage].artifact
    assert name.startswith(f"fedora-ci/{expected}.test.")
    artifact = envelope["msg"]["artifact"]
    if expected == "koji-build":
        assert (artifact["nvr"], artifact["component"]) == (fields["nvr"], fields["repo"])
        task = fields.get("koji_task_id", "")
        digits = task.isascii() and task.isdigit() and len(task) <= 15
        assert artifact["id"] == (int(task) if digits and int(task) > 0 else run_id)
    else:
        assert artifact["id"] == f"{fields['ref']}@{fields['compose_rev']}"
    if state != State.COMPLETE:
        assert name.endswith(f".{state}")


def _valid_body() -> dict[str, Any]:
    report = fedora_ci.StageReport(1, Stage.FUNCTIONAL, State.COMPLETE, RUN_FIELDS, Status.SUCCESS,
                                   "", [{"name": "t", "outcome": "PASSED"}])
    return fedora_ci.build_body(_config(), report)[1]


def _required_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field path the schema requires, read from its own ``required`` lists (objects only)."""
    parts = [schema, *schema.get("allOf", [])]
    paths = []
    for part in parts:
        for name in part.get("required", []):
            paths.append((*prefix, name))
            paths += _required_paths(part.get("properties", {}).get(name, {}), (*prefix, name))
    return paths


REQUIRED = _required_paths(load_schema("fedora-ci/koji-build.test.complete"))


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(REQUIRED))
def test_a_body_without_a_required_field_is_refused_naming_it(path: tuple[str, ...]) -> None:
    body = copy.deepcopy(_valid_body())
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(SchemaViolation, match=f"Field '{'.'.join(path)}' is missing"):
        validate_body("fedora-ci/koji-build.test.complete", body)


@settings(max_examples=100, deadline=None)
@given(
    where=st.sampled_from([("test", "result"), ("test", "category"), ("artifact", "id"),
                           ("artifact", "scratch"), ("version",), ("generated_at",), ("run", "url")]),
    value=st.one_of(st.text(max_size=20), st.integers(max_value=0), st.none(), st.booleans()),
)
def test_a_body_with_a_wrong_value_is_refused(where: tuple[str, ...], value: Any) -> None:
    body = copy.deepcopy(_valid_body())
    parent = body
    for key in where[:-1]:
        parent = parent[key]
    rules = {
        ("test", "result"): lambda v: v in ("passed", "failed", "info", "needs_inspection", "not_applicable"),
        ("test", "category"): lambda v: v in load_schema("fedora-ci/koji-build.test.complete")
        ["properties"]["test"]["allOf"][0]["properties"]["category"]["enum"],
        ("artifact", "id"): lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        ("artifact", "scratch"): lambda v: isinstance(v, bool),
        ("version",): lambda v: False,
        ("generated_at",): lambda v: False,
        ("run", "url"): lambda v: isinstance(v, str) and v.startswith(("http://", "https://"))
        and " " not in v,
    }
    if rules[where](value):
        return
    parent[where[-1]] = value
    with pytest.raises(SchemaViolation):
        validate_body("fedora-ci/koji-build.test.complete", body)


def test_ci_topics_are_recognised_and_others_are_not() -> None:
    suffix = "productmd-compose.test.error"
    assert fedora_ci_suffix(f"org.centos.stage.ci.{suffix}") == suffix
    assert fedora_ci_suffix("org.centos.prod.ci.koji-build.test.skipped") is None
    assert fedora_ci_suffix("org.centos.prod.ci.pipeline.complete") is None
    assert suffix_of("org.centos.prod.ci.koji-build.test.queued") == "fedora-ci/koji-build.test.queued"
    envelope = make_envelope("org.centos.prod.ci.koji-build.test.queued", {"contact": {}})
    with pytest.raises(SchemaViolation, match="is missing"):
        validate_envelope(envelope)


def test_formats_must_keep_the_ci_pipeline_format(tmp_path: Any) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[bus]\nformats = ["fedora-ci"]\n')
    with pytest.raises(ConfigError, match="ci-pipeline"):
        load_config(path, environ={})
    path.write_text('[bus]\nformats = ["ci-pipeline", "fedmsg2"]\n')
    with pytest.raises(ConfigError):
        load_config(path, environ={})
    assert not fedora_ci.enabled(Config())
