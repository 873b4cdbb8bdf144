"""Validation of envelopes and bodies: the seed validates, every kind of breakage is named."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ci_pipeline.errors import SchemaViolation, UnknownTopic
from ci_pipeline.messages.builders import build_body
from ci_pipeline.messages.envelope import make_envelope
from ci_pipeline.messages.fields import PLACEHOLDER
from ci_pipeline.messages.schema import (
    compiled_validator,
    fast_check,
    suffix_of,
    validate_body,
    validate_envelope,
)
from ci_pipeline.messages.topics import PIPELINE_SUFFIXES, pipeline_topic

REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
NON_STRINGS = st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2), st.booleans())


def test_every_seed_message_validates(
    seed_message_path: Path, seed_suffix_of: Callable[[Path], str]
) -> None:
    envelope = json.loads(seed_message_path.read_text("utf-8"))
    assert validate_envelope(envelope) == seed_suffix_of(seed_message_path)
    validate_body(seed_suffix_of(seed_message_path), envelope["msg"])


def _body(suffix: str, run_fields: dict[str, str]) -> dict[str, str]:
    return build_body(pipeline_topic("org.centos", "prod", suffix), run_fields)


@settings(max_examples=150, deadline=None)
@given(suffix=st.sampled_from(PIPELINE_SUFFIXES), data=st.data())
def test_removing_any_field_is_rejected_by_name(
    suffix: str, data: st.DataObject, run_fields: dict[str, str]
) -> None:
    body = _body(suffix, run_fields)
    validate_body(suffix, body)
    field = data.draw(st.sampled_from(sorted(body)))
    del body[field]
    with pytest.raises(SchemaViolation, match=f"^Field '{field}' is missing\\.$"):
        validate_body(suffix, body)


@settings(max_examples=150, deadline=None)
@given(suffix=st.sampled_from(PIPELINE_SUFFIXES), extra=st.text(min_size=1, max_size=20), value=st.text())
def test_adding_any_field_is_rejected(
    suffix: str, extra: str, value: str, run_fields: dict[str, str]
) -> None:
    body = _body(suffix, run_fields)
    assume(extra not in body)
    body[extra] = value
    with pytest.raises(SchemaViolation, match=r"is not allowed\.$"):
        validate_body(suffix, body)


@settings(max_examples=200, deadline=None)
@given(suffix=st.sampled_from(PIPELINE_SUFFIXES), data=st.data(), value=NON_STRINGS)
def test_any_non_string_value_is_rejected_by_name(
    suffix: str, data: st.DataObject, value: Any, run_fields: dict[str, str]
) -> None:
    body = _body(suffix, run_fields)
    field = data.draw(st.sampled_from(sorted(body)))
    body[field] = value
    with pytest.raises(SchemaViolation, match=f"^Field '{field}' must be a string\\.$"):
        validate_body(suffix, body)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("rev", "591b0d2", "Field 'rev' must be 40 lowercase hexadecimal digits"),
        ("rev", REV.upper(), "Field 'rev' must be 40 lowercase hexadecimal digits"),
        ("rev", REV + "\n", "Field 'rev' must be 40 lowercase hexadecimal digits"),
        ("status", "PASSED", "Field 'status' must be one of SUCCESS, FAILURE or ABORTED."),
        ("build_id", "91a", "Field 'build_id' must be a string of decimal digits"),
        ("repo", "..", "Field 'repo' must be a package name"),
        ("repo", "vim/../x", "Field 'repo' must be a package name"),
        ("repo", "vim\n", "Field 'repo' must be a package name"),
        ("branch", "-f26", "Field 'branch' must be a branch name"),
        ("compose_rev", "c15b07cc", "Field 'compose_rev' must be 64 lowercase hexadecimal digits"),
        ("nvr", "vim", "Field 'nvr' must be a name-version-release"),
        ("topic", "org.centos.prod.ci.pipeline.image.running", "Field 'topic' must be a pipeline topic"),
        ("topic", "org.centos.qa.ci.pipeline.image.complete", "Field 'topic' must be a pipeline topic"),
    ],
)
def test_bad_values_are_named_in_one_sentence(
    field: str, value: str, reason: str, seed_bodies: dict[str, dict[str, Any]]
) -> None:
    body = dict(seed_bodies["image.complete"], **{field: value})
    with pytest.raises(SchemaViolation) as caught:
        validate_body("image.complete", body)
    text = str(caught.value)
    assert text.startswith(reason)
    assert text.endswith(".") and "\n" not in text


@pytest.mark.parametrize("field", ["test_guidance", "compose_rev", "image_name", "image_url", "nvr"])
def test_the_placeholder_is_accepted_where_a_value_is_not_known_yet(
    field: str, seed_bodies: dict[str, dict[str, Any]]
) -> None:
    validate_body("image.complete", dict(seed_bodies["image.complete"], **{field: PLACEHOLDER}))


def test_a_body_that_is_not_an_object_is_named_as_such() -> None:
    with pytest.raises(SchemaViolation, match=r"^The message body must be a JSON object\.$"):
        validate_body("package.queued", ["not", "an", "object"])


def test_topics_are_known_under_any_prefix_and_environment(
    seed_envelopes: dict[str, dict[str, Any]],
) -> None:
    envelope = copy.deepcopy(seed_envelopes["package.queued"])
    topic = "io.example.stage.ci.pipeline.package.queued"
    envelope["topic"] = envelope["msg"]["topic"] = topic
    assert validate_envelope(envelope) == "package.queued"
    assert suffix_of("org.fedoraproject.stg.git.receive") == "git.receive"


@pytest.mark.parametrize(
    "topic",
    ["org.centos.prod.ci.pipeline.package.exploded", "org.fedoraproject.prod.buildsys.tag", "git.receive"],
)
def test_unknown_topics_are_refused(topic: str, seed_envelopes: dict[str, dict[str, Any]]) -> None:
    envelope = dict(seed_envelopes["package.queued"], topic=topic)
    with pytest.raises(UnknownTopic, match=r"is neither a ci-pipeline topic nor a git\.receive topic"):
        validate_envelope(envelope)
    with pytest.raises(UnknownTopic):
        validate_body("envelope", {})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"msg_id": "91"}, "Field 'msg_id' must be <year>-<uuid>"),
        ({"i": "1"}, "Field 'i' must be an integer."),
        ({"timestamp": -1}, "Field 'timestamp' must be a non-negative number"),
        ({"crypto": "rot13"}, "Field 'crypto' must be x509 or gpg."),
        ({"extra": 1}, "Field 'extra' is not allowed."),
        ({"msg": "vim"}, "Field 'msg' must be a JSON object."),
    ],
)
def test_envelope_violations_are_named(
    change: dict[str, Any], reason: str, seed_envelopes: dict[str, dict[str, Any]]
) -> None:
    envelope = dict(seed_envelopes["package.queued"], **change)
    with pytest.raises(SchemaViolation) as caught:
        validate_envelope(envelope)
    assert str(caught.value).startswith(reason)


def test_a_missing_envelope_key_is_named(seed_envelopes: dict[str, dict[str, Any]]) -> None:
    envelope = dict(seed_envelopes["package.queued"])
    del envelope["msg_id"]
    with pytest.raises(SchemaViolation, match=r"^Field 'msg_id' is missing\.$"):
        validate_envelope(envelope)


FIELD_VALUES = st.one_of(
    st.sampled_from(["", PLACEHOLDER, REV, REV + "\n", "vim", "..", "-x", "91", "SUCCESS", "x" * 101]),
    st.text(max_size=70),
    st.from_regex(r"[0-9a-f]{40,64}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(suffix=st.sampled_from(PIPELINE_SUFFIXES), data=st.data(), value=FIELD_VALUES)
def test_the_fast_path_and_the_authority_agree(
    suffix: str, data: st.DataObject, value: str, run_fields: dict[str, str]
) -> None:
    body = _body(suffix, run_fields)
    body[data.draw(st.sampled_from(sorted(body)))] = value
    try:
        fast_check(suffix)(body)
        fast_valid = True
    except fastjsonschema.JsonSchemaException:
        fast_valid = False
    assert fast_valid == compiled_validator(suffix).is_valid(body)


def test_a_gating_decision_change_has_a_schema_of_its_own() -> None:
    body = {
        "decision_context": "bodhi_update_push_stable",
        "product_version": "fedora-26",
        "subject": [{"item": "vim-1-1.fc26", "type": "koji_build"}],
        "subject_type": "koji_build",
        "subject_identifier": "vim-1-1.fc26",
        "policies_satisfied": True,
        "summary": "All required tests (1 total) have passed.",
        "previous": None,
        "applicable_policies": ["p"],
        "satisfied_requirements": [],
        "unsatisfied_requirements": [],
    }
    assert suffix_of("org.centos.stage.greenwave.decision.update") == "greenwave.decision.update"
    assert validate_envelope(make_envelope("org.centos.prod.greenwave.decision.update", body)) == (
        "greenwave.decision.update"
    )
    with pytest.raises(SchemaViolation, match="'previous' must be a JSON object or null"):
        validate_body("greenwave.decision.update", {**body, "previous": "no"})
    with pytest.raises(SchemaViolation, match="'summary' is missing"):
        validate_body("greenwave.decision.update", {k: v for k, v in body.items() if k != "summary"})
    with pytest.raises(UnknownTopic):
        suffix_of("org.centos.prod.greenwave.decision.delete")
