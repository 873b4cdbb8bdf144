"""The schema files: well-formed, shipped in the package, and matching the seed's field sets."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ci_pipeline.errors import SchemaViolation, UnknownTopic
from ci_pipeline.messages.fields import (
    GIT_RECEIVE_SUFFIX,
    SCHEMA_NAMES,
    body_fields,
    field_expectation,
    load_schema,
)
from ci_pipeline.messages.schema import validate_body
from ci_pipeline.messages.topics import PIPELINE_SUFFIXES
from ci_pipeline.store.models import BuildIdSequence, Decision, OutboxMessage, Run

# Keywords that fastjsonschema (the fast path) and jsonschema (the authority) read alike.
SHARED_KEYWORDS = {
    "$schema", "$id", "$comment", "title", "description", "type", "properties", "required",
    "additionalProperties", "pattern", "minLength", "maxLength", "enum", "not", "minimum",
    "maximum", "items", "minItems", "allOf",
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
    schemas = resources.files("ci_pipeline.messages").joinpath("schemas")
    shipped = {e.name.removesuffix(".json") for e in schemas.iterdir() if e.name.endswith(".json")}
    ci_files = {entry.name.removesuffix(".json") for entry in schemas.joinpath("fedora-ci").iterdir()}
    topics = {name for name in ci_files if ".test." in name}
    assert shipped | {f"fedora-ci/{name}" for name in topics} == set(SCHEMA_NAMES)
    # The parts the CI messages 1.x topic schemas are made of are all used by one of them.
    used = {part for name in topics for part in ci_files - topics
            if f'"{part}.json"' in schemas.joinpath("fedora-ci", f"{name}.json").read_text()}
    assert used | {"koji-build", "productmd-compose"} >= ci_files - topics


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


#: Store columns that hold a message field as it is, and the field's name in the schemas.
COLUMNS = {
    "repo": (Run.repo, Decision.repo),
    "rev": (Run.rev, Decision.rev),
    "namespace": (Run.namespace, Decision.namespace),
    "branch": (Run.branch, Decision.branch),
    "CI_NAME": (Run.ci_name, BuildIdSequence.ci_name),
    "topic": (OutboxMessage.topic,),
}


def _field_specs(field: str) -> list[dict[str, Any]]:
    """The spec of ``field`` in every schema that has it (the envelope's own, the push's commit's)."""
    specs = []
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        properties = schema["properties"]
        if name == GIT_RECEIVE_SUFFIX:
            properties = properties["commit"]["properties"]
        if field in properties:
            specs.append(properties[field])
    return specs


@pytest.mark.parametrize("field", sorted(COLUMNS))
def test_every_rule_of_a_stored_field_fits_its_columns(field: str) -> None:
    specs = _field_specs(field)
    assert len(specs) >= len(PIPELINE_SUFFIXES), field
    shortest_column = min(column.type.length for column in COLUMNS[field])
    for spec in specs:
        assert spec["maxLength"] <= shortest_column, field
        assert f"at most {spec['maxLength']}" in spec["description"] or field == "rev", field


def test_the_message_id_fits_its_column() -> None:
    [spec] = _field_specs("msg_id")
    assert spec["maxLength"] <= Decision.msg_id.type.length


@pytest.mark.parametrize("field", ["repo", "rev", "namespace", "branch", "CI_NAME", "msg_id"])
def test_every_bounded_pattern_allows_exactly_its_length_limit(field: str) -> None:
    for spec in _field_specs(field):
        # The regex parser's widest match; a pattern saying otherwise than maxLength would mislead.
        assert re._parser.parse(spec["pattern"]).getwidth()[1] == spec["maxLength"], field


@pytest.mark.parametrize(("field", "first"), [("repo", "_"), ("branch", "f"), ("namespace", "r")])
@settings(max_examples=25)
@given(data=st.data())
def test_a_name_longer_than_its_limit_is_refused(field: str, first: str, data: st.DataObject) -> None:
    limit = _field_specs(field)[0]["maxLength"]
    tail = data.draw(st.text(alphabet="az09._+-", min_size=limit, max_size=limit + 40))
    body = {"commit": {"repo": "vim", "rev": "a" * 40, "branch": "f26", field: first + tail}}
    with pytest.raises(SchemaViolation, match=f"'commit.{field}' must be .*at most {limit}"):
        validate_body(GIT_RECEIVE_SUFFIX, body)


def test_every_pipeline_topic_spells_each_shared_field_the_same_way() -> None:
    by_field: dict[str, list[tuple[str, Any]]] = {}
    for suffix in PIPELINE_SUFFIXES:
        for field, spec in load_schema(suffix)["properties"].items():
            by_field.setdefault(field, []).append((suffix, spec))
    for field, specs in by_field.items():
        if field == "topic":
            # Each topic's pattern names its own suffix; the rest of the rule is shared.
            specs = [(suffix, {**spec, "pattern": "", "description": ""}) for suffix, spec in specs]
        first_suffix, first = specs[0]
        for suffix, spec in specs[1:]:
            assert spec == first, f"{field} differs between {first_suffix} and {suffix}"


def test_the_push_schema_names_the_change_as_the_pipeline_schemas_do() -> None:
    commit = load_schema(GIT_RECEIVE_SUFFIX)["properties"]["commit"]["properties"]
    run = load_schema("package.queued")["properties"]
    assert commit["repo"] == run["repo"]
    assert commit["branch"] == run["branch"]
    for key in ("pattern", "maxLength"):
        assert commit["namespace"][key] == run["namespace"][key]
    # A push may spell its commit in capitals; the trigger lowers it before any message carries it.
    assert commit["rev"]["pattern"].lower() == run["rev"]["pattern"].replace("0-9a-f", "0-9a-fa-f")
    assert commit["rev"]["maxLength"] == run["rev"]["maxLength"]
