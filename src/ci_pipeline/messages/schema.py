"""Validation of envelopes and bodies against the topic schemas, with one-sentence reasons.

Validation runs for every message the service sends or receives, so it is kept lean. Each schema is
compiled once into Python code by fastjsonschema (about 15 µs a body, ten times faster than an
interpreted check) and that fast path accepts a valid message. A message it rejects goes to
jsonschema's Draft 2020-12 validator, the authority, which names the field and the problem (or, if it
finds none, accepts the message after all). The schemas use only keywords both read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from ci_pipeline.errors import SchemaViolation, UnknownTopic
from ci_pipeline.messages.fields import ENVELOPE_SCHEMA, FEDORA_CI_FOLDER, GIT_RECEIVE_SUFFIX, load_schema
from ci_pipeline.messages.push_topics import PushKind, push_kind
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.topics import (
    GREENWAVE_DECISION_UPDATE,
    fedora_ci_suffix,
    is_greenwave_topic,
    topic_suffix,
)

#: The push forms whose body is the seed's ``{"commit": {...}}`` (Pagure's has a schema of its own).
_COMMIT_BODY_KINDS = frozenset({PushKind.GIT_RECEIVE, PushKind.PER_REPO})
_TYPE_NAMES = {
    "string": "a string",
    "object": "a JSON object",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "null": "null",
}


@cache
def compiled_validator(name: str) -> Draft202012Validator:
    """The jsonschema validator of the schema ``name``, built once per process."""
    return Draft202012Validator(load_schema(name))


@cache
def fast_check(name: str) -> Callable[[Any], Any]:
    """The schema ``name`` compiled to Python by fastjsonschema; raises on an invalid instance."""
    return fastjsonschema.compile(load_schema(name), use_formats=False, detailed_exceptions=False)


def suffix_of(topic: str) -> str:
    """The schema name of ``topic``: a pipeline suffix under any prefix and env, a CI messages 1.x
    test topic (``fedora-ci/<suffix>``), the gating decision change, or ``git.receive`` for a fedmsg
    dist-git push topic (Pagure's pushes are read by :mod:`.inbound`)."""
    suffix = topic_suffix(topic)
    if suffix is not None:
        return suffix
    ci_suffix = fedora_ci_suffix(topic)
    if ci_suffix is not None:
        return f"{FEDORA_CI_FOLDER}/{ci_suffix}"
    if is_greenwave_topic(topic):
        return GREENWAVE_DECISION_UPDATE
    if push_kind(topic) in _COMMIT_BODY_KINDS:
        return GIT_RECEIVE_SUFFIX
    raise UnknownTopic(
        f"Topic {quote_value(topic)} is neither a ci-pipeline topic nor a git.receive topic "
        "(nor a CI messages 1.x test topic, nor a gating decision change)."
    )


def validate_body(suffix: str, body: Any) -> None:
    """Check a body against the schema of topic ``suffix``; raise SchemaViolation saying why not."""
    if suffix == ENVELOPE_SCHEMA:
        raise UnknownTopic("'envelope' is not a topic suffix.")
    _validate(suffix, body, "message body")


def validate_envelope(envelope: Any) -> str:
    """Check an envelope and its body against their schemas and return the topic's schema name."""
    _validate(ENVELOPE_SCHEMA, envelope, "envelope")
    suffix = suffix_of(envelope["topic"])
    _validate(suffix, envelope["msg"], "message body")
    return suffix


def _validate(name: str, instance: Any, what: str) -> None:
    validate_instance(fast_check(name), compiled_validator(name), instance, what)


def validate_instance(fast: Callable[[Any], Any], authority: Any, instance: Any, what: str) -> None:
    """Check ``instance`` with a fastjsonschema function; jsonschema's ``authority`` explains a
    rejection in one sentence (SchemaViolation), or accepts the instance after all."""
    try:
        fast(instance)
    except fastjsonschema.JsonSchemaException:
        error = best_match(authority.iter_errors(instance))
        if error is not None:
            raise SchemaViolation(describe_violation(error, what)) from None


def describe_violation(error: ValidationError, what: str = "message body") -> str:
    """One short sentence naming the field and what is wrong with it."""
    path = [str(part) for part in error.absolute_path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = next((name for name in error.validator_value if name not in instance), "?")
        return f"Field {_field_name([*path, str(missing)])} is missing."
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = error.schema.get("properties", {})
        extra = next((name for name in instance if name not in allowed), "?")
        return f"Field {_field_name([*path, str(extra)])} is not allowed."
    if error.validator == "type":
        expected = error.validator_value
        kinds = expected if isinstance(expected, list) else [expected]
        kind = " or ".join(_TYPE_NAMES.get(str(k), str(k)) for k in kinds)
        if not path:
            return f"The {what} must be {kind}."
        return f"Field {_field_name(path)} must be {kind}."
    description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    if path and isinstance(description, str):
        return f"Field {_field_name(path)} must be {description}."
    # jsonschema's own text quotes the whole value, which may be megabytes from outside.
    return f"The {what} is not valid: {quote_value(error.message)}."


def _field_name(path: list[str]) -> str:
    # Field names come from outside too: an extra key may be anything.
    return quote_value(".".join(path))
