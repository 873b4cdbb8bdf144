"""Body and message builders: exactly the topic's fields, the seed's defaults, validated output."""

from __future__ import annotations

from typing import Any

import pytest

from ci_pipeline.errors import SchemaViolation, UnknownTopic
from ci_pipeline.messages.builders import FIELDS, build_body, build_message
from ci_pipeline.messages.fields import load_schema
from ci_pipeline.messages.schema import validate_body, validate_envelope
from ci_pipeline.messages.topics import PIPELINE_SUFFIXES, pipeline_topic


def test_fields_cover_every_topic_and_come_from_the_schemas() -> None:
    assert set(FIELDS) == set(PIPELINE_SUFFIXES)
    for suffix, names in FIELDS.items():
        assert list(names) == load_schema(suffix)["required"]


def test_every_seeded_topic_builds_the_seed_body_from_run_fields(
    seed_bodies: dict[str, dict[str, Any]], run_fields: dict[str, str]
) -> None:
    seeded = [suffix for suffix in seed_bodies if suffix in FIELDS]
    assert len(seeded) == 16
    for suffix in seeded:
        seed = seed_bodies[suffix]
        body = build_body(seed["topic"], run_fields)
        assert list(body) == list(seed), suffix
        validate_body(suffix, body)


def test_a_seed_body_rebuilds_to_itself(seed_bodies: dict[str, dict[str, Any]]) -> None:
    for suffix, seed in seed_bodies.items():
        if suffix in FIELDS:
            assert build_body(seed["topic"], seed) == seed, suffix


@pytest.mark.parametrize("suffix", PIPELINE_SUFFIXES)
def test_every_topic_builds_a_valid_message_from_run_fields(suffix: str, run_fields: dict[str, str]) -> None:
    topic = pipeline_topic("org.centos", "stage", suffix)
    envelope = build_message(topic, run_fields)
    assert validate_envelope(envelope) == suffix
    assert envelope["msg"]["topic"] == topic == envelope["topic"]


def test_unknown_fields_become_placeholders_and_message_content_stays_empty(
    run_fields: dict[str, str],
) -> None:
    fields = {**run_fields, "compose_rev": "", "message-content": "", "topic": "ignored.topic"}
    del fields["image_url"]
    topic = "org.centos.prod.ci.pipeline.image.running"
    body = build_body(topic, fields)
    assert body["compose_rev"] == "''"
    assert body["image_url"] == "''"
    assert body["message-content"] == ""
    assert body["topic"] == topic
    assert "package_url" not in body


def test_message_content_is_kept_when_given(run_fields: dict[str, str]) -> None:
    body = build_body("org.centos.prod.ci.pipeline.complete", {**run_fields, "message-content": "note"})
    assert body["message-content"] == "note"


def test_a_message_missing_a_required_value_is_refused(run_fields: dict[str, str]) -> None:
    fields = dict(run_fields)
    del fields["rev"]
    with pytest.raises(SchemaViolation, match="Field 'rev' must be 40 lowercase hexadecimal digits"):
        build_message("org.centos.prod.ci.pipeline.package.queued", fields)


@pytest.mark.parametrize(
    "topic", ["org.centos.prod.ci.pipeline.package.exploded", "org.fedoraproject.prod.git.receive"]
)
def test_unknown_topics_cannot_be_built(topic: str, run_fields: dict[str, str]) -> None:
    with pytest.raises(UnknownTopic):
        build_body(topic, run_fields)
