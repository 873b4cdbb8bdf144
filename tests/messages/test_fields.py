"""The schema files: well-formed, shipped in the package, and matching the seed's field sets."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ci_pipeline.errors import UnknownTopic
from ci_pipeline.messages.fields import (
    GIT_RECEIVE_SUFFIX,
    SCHEMA_NAMES,
    body_fields,
    field_expectation,
    load_schema,
)
from ci_pipeline.messages.topics import PIPELINE_SUFFIXES

# Keywords that fastjsonschema (the fast path) and jsonschema (the authority) read alike.
SHARED_KEYWORDS = {
    "$schema", "$id", "$comment", "title", "description", "type", "properties", "required",
    "additionalProperties", "pattern", "minLength", "maxLength", "enum", "not", "minimum",
}
BORROWED = {
    "compose.queued": "compose.running",
    "image.queued": "image.running",
    "image.test.smoke.queued": "image.test.smoke.running",
    "image.test.e2e.queued": "image.test.smoke.running",
    "image.test.e2e.running": "image.test.smoke.running",
    "image.test.e2e.complete": "image.test.smoke.complete",
}


def _keywords(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        if key == "properties":
            for sub in value.values():
                found |= _keywords(sub)
        elif key == "not":
            found |= _keywords(value)
    return found


def test_the_package_ships_exactly_one_schema_per_name() -> None:
    shipped = {
        entry.name.removesuffix(".json")
        for entry in resources.files("ci_pipeline.messages").joinpath("schemas").iterdir()
        if entry.name.endswith(".json")
    }
    assert shipped == set(SCHEMA_NAMES)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_is_a_valid_2020_12_schema_using_shared_keywords(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert _keywords(schema) <= SHARED_KEYWORDS


@pytest.mark.parametrize("suffix", PIPELINE_SUFFIXES)
def test_pipeline_schemas_require_every_field_as_a_described_string(suffix: str) -> None:
    schema = load_schema(suffix)
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == schema["required"] == list(body_fields(suffix))
    for name, spec in schema["properties"].items():
        assert spec["type"] == "string", name
        assert field_expectation(schema, name), name


def test_every_seed_body_has_exactly_its_schemas_required_fields(
    seed_bodies: dict[str, dict[str, Any]],
) -> None:
    assert set(seed_bodies) <= set(SCHEMA_NAMES)
    for suffix, body in seed_bodies.items():
        assert set(body) == set(load_schema(suffix)["required"]), suffix


@pytest.mark.parametrize(("suffix", "donor"), sorted(BORROWED.items()))
def test_unseeded_topics_take_the_field_set_the_contract_names(
    suffix: str, donor: str, seed_bodies: dict[str, dict[str, Any]]
) -> None:
    assert suffix not in seed_bodies
    assert set(body_fields(suffix)) == set(seed_bodies[donor])


def test_the_pipeline_end_topic_carries_the_union_of_every_stage_field() -> None:
    union = {name for suffix in PIPELINE_SUFFIXES if suffix != "complete" for name in body_fields(suffix)}
    assert set(body_fields("complete")) == union
    assert {"package_url", "compose_url", "compose_rev", "image_name", "image_url", "type"} <= union


def test_the_git_receive_body_requires_only_the_commit() -> None:
    assert load_schema(GIT_RECEIVE_SUFFIX)["required"] == ["commit"]


def test_unknown_names_are_unknown_topics() -> None:
    with pytest.raises(UnknownTopic):
        load_schema("package.exploded")
    with pytest.raises(UnknownTopic):
        body_fields(GIT_RECEIVE_SUFFIX)
