"""Build message bodies and whole messages with exactly the field set of their topic.

Callers pass every run field they know (a superset is fine); a body keeps only its topic's fields,
in the seed's order. A field not given, or given empty, is the seed's placeholder ``''``, except
``message-content`` whose default is the empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci_pipeline.errors import UnknownTopic
from ci_pipeline.messages.envelope import Signer, encode, make_envelope
from ci_pipeline.messages.fields import MESSAGE_CONTENT, PLACEHOLDER, body_fields
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.schema import validate_envelope
from ci_pipeline.messages.topics import PIPELINE_SUFFIXES, topic_suffix

#: The body field names of every pipeline topic suffix, read from the schemas.
FIELDS: dict[str, tuple[str, ...]] = {suffix: body_fields(suffix) for suffix in PIPELINE_SUFFIXES}


def build_body(topic: str, fields: Mapping[str, str]) -> dict[str, str]:
    """The body of a message on the pipeline ``topic``: exactly that topic's fields, from ``fields``."""
    suffix = topic_suffix(topic)
    if suffix is None:
        raise UnknownTopic(f"Topic {quote_value(topic)} is not a topic ci-pipeline sends.")
    body: dict[str, str] = {}
    for name in FIELDS[suffix]:
        if name == "topic":
            body[name] = topic
        elif fields.get(name):
            body[name] = fields[name]
        else:
            body[name] = "" if name == MESSAGE_CONTENT else PLACEHOLDER
    return body


def build_message(topic: str, fields: Mapping[str, str], *, signer: Signer | None = None) -> dict[str, Any]:
    """A validated fedmsg envelope for ``topic`` around :func:`build_body`'s body."""
    envelope = make_envelope(topic, build_body(topic, fields), signer=signer)
    validate_envelope(envelope)
    return envelope


def encode_message(topic: str, fields: Mapping[str, str]) -> bytes:
    """The bytes of a validated message for ``topic``: how the service builds every message it sends."""
    return encode(build_message(topic, fields))


def encode_body_message(topic: str, body: Mapping[str, Any]) -> bytes:
    """The bytes of a validated message carrying ``body`` as it is (a body not built from run fields,
    such as a gating decision change)."""
    envelope = make_envelope(topic, body)
    validate_envelope(envelope)
    return encode(envelope)
