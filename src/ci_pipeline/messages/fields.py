"""The JSON Schemas of the message contract, read from the package, and the field sets they define.

Every schema is a file ``schemas/<suffix>.json`` shipped inside the wheel and read with
:mod:`importlib.resources`; the field set of a topic is its schema's ``required`` list, in the order
the seed examples use, so the schemas are the single source of truth for which fields a body has.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ci_pipeline.errors import UnknownTopic
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.topics import FEDORA_CI_SUFFIXES, GREENWAVE_DECISION_UPDATE, PIPELINE_SUFFIXES

#: The value the seed shows for a field that is not known yet (two single quotes).
PLACEHOLDER = "''"
#: The one body field whose empty default is ``""`` rather than the placeholder.
MESSAGE_CONTENT = "message-content"
#: The suffix (and schema name) of the inbound dist-git push topic, ``<prefix>.<env>.git.receive``.
GIT_RECEIVE_SUFFIX = "git.receive"
#: The schema name of the fedmsg envelope.
ENVELOPE_SCHEMA = "envelope"
#: The folder of the CI messages 1.x schemas; their schema names are ``fedora-ci/<topic suffix>``.
FEDORA_CI_FOLDER = "fedora-ci"

#: Every schema name: each pipeline topic suffix, the gating decision change, the dist-git push body
#: and the envelope.
SCHEMA_NAMES: tuple[str, ...] = (
    *PIPELINE_SUFFIXES, GREENWAVE_DECISION_UPDATE, GIT_RECEIVE_SUFFIX, ENVELOPE_SCHEMA,
    *(f"{FEDORA_CI_FOLDER}/{suffix}" for suffix in FEDORA_CI_SUFFIXES),
)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema called ``name``: a topic suffix, ``greenwave.decision.update``,
    ``git.receive``, ``envelope`` or ``fedora-ci/<CI messages 1.x topic suffix>``."""
    if name not in SCHEMA_NAMES:
        raise UnknownTopic(f"No message schema is defined for {quote_value(name)}.")
    folder, _, _ = name.rpartition("/")
    schema: dict[str, Any] = _inline_references(_schema_file(f"{name}.json"), folder)
    return schema


def _schema_file(name: str) -> Any:
    text = resources.files("ci_pipeline.messages").joinpath("schemas", *name.split("/")).read_text("utf-8")
    return json.loads(text)


def _inline_references(node: Any, folder: str) -> Any:
    """``node`` with every ``{"$ref": "<file>.json"}`` replaced by that file of ``folder`` (its own
    references inlined too): the CI messages 1.x schemas are split into parts as the specification is,
    and both validators then read one self-contained schema."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.endswith(".json") and len(node) == 1:
            part = _schema_file(f"{folder}/{reference}" if folder else reference)
            part.pop("$schema", None)
            part.pop("$id", None)
            return _inline_references(part, folder)
        return {key: _inline_references(value, folder) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_references(value, folder) for value in node]
    return node


def body_fields(suffix: str) -> tuple[str, ...]:
    """The exact field names of the body of the pipeline topic ``suffix``, in seed order."""
    if suffix not in PIPELINE_SUFFIXES:
        raise UnknownTopic(f"{quote_value(suffix)} is not a topic suffix ci-pipeline sends.")
    return tuple(load_schema(suffix)["required"])


def field_expectation(schema: dict[str, Any], field: str) -> str | None:
    """What the schema says the value of ``field`` must be (its description), if it says it."""
    properties = schema.get("properties", {})
    spec = properties.get(field)
    if isinstance(spec, dict) and isinstance(spec.get("description"), str):
        return str(spec["description"])
    return None
