"""fedora-messaging's wire format: how a fedmsg envelope becomes an AMQP message, and back.

fedora-messaging puts the message body alone in the AMQP body (JSON, utf-8) and the rest in AMQP
properties: ``message_id``, persistent ``delivery_mode``, and the headers ``fedora_messaging_schema``
(the name a consumer looks its message class up by; an unknown name falls back to ``base.message``
with a warning, so ``base.message`` is the default here), ``fedora_messaging_severity`` (10 DEBUG,
20 INFO, 30 WARNING, 40 ERROR), ``sent-at`` (ISO 8601, UTC) and ``priority`` (mirrors the property).
The topic is the routing key. With ``whole_envelope`` the fedmsg envelope itself is the body and the
header ``ci_pipeline_envelope: fedmsg`` says so.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika

from ci_pipeline.errors import MalformedMessage

SCHEMA_HEADER = "fedora_messaging_schema"
SEVERITY_HEADER = "fedora_messaging_severity"
SENT_AT_HEADER = "sent-at"
PRIORITY_HEADER = "priority"
ENVELOPE_HEADER = "ci_pipeline_envelope"
BASE_SCHEMA = "base.message"
INFO = 20
WARNING = 30


@dataclass(frozen=True, slots=True)
class WireMessage:
    """An AMQP body with its properties, ready for ``basic_publish``."""

    routing_key: str
    body: bytes
    properties: pika.BasicProperties


def new_msg_id(now: float | None = None) -> str:
    """A fedmsg message id, ``<year>-<uuid4>``."""
    year = datetime.fromtimestamp(time.time() if now is None else now, UTC).year
    return f"{year}-{uuid.uuid4()}"


def encode(topic: str, payload: bytes, *, whole_envelope: bool = False,
           schema: str = BASE_SCHEMA) -> WireMessage:
    """The AMQP message for a fedmsg envelope published on ``topic``."""
    envelope = _envelope(topic, payload)
    body_object = envelope if whole_envelope else envelope["msg"]
    timestamp = float(envelope.get("timestamp") or time.time())
    msg_id = str(envelope.get("msg_id") or new_msg_id(timestamp))
    headers: dict[str, Any] = {
        SCHEMA_HEADER: schema,
        # A failed stage is what package owners want to hear about: fedora-messaging's WARNING.
        SEVERITY_HEADER: WARNING if envelope["msg"].get("status") == "FAILURE" else INFO,
        SENT_AT_HEADER: datetime.fromtimestamp(timestamp, UTC).isoformat(),
        PRIORITY_HEADER: 0,
    }
    if whole_envelope:
        headers[ENVELOPE_HEADER] = "fedmsg"
    properties = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=pika.DeliveryMode.Persistent.value,
        headers=headers,
        message_id=msg_id,
        timestamp=int(timestamp),
    )
    body = json.dumps(body_object, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return WireMessage(topic, body, properties)


def decode(routing_key: str, properties: pika.BasicProperties, body: bytes) -> tuple[bytes, float]:
    """Our payload (fedmsg envelope bytes) and its publication time for a received AMQP message.

    A body that is not a JSON object is passed on unchanged so that it can be dead-lettered whole.
    """
    headers = properties.headers or {}
    published_at = _published_at(headers, properties)
    if headers.get(ENVELOPE_HEADER) == "fedmsg":
        return body, published_at
    try:
        message = json.loads(body.decode(properties.content_encoding or "utf-8"))
    except (UnicodeDecodeError, LookupError, ValueError):
        return body, published_at
    if not isinstance(message, dict):
        return body, published_at
    msg_id = properties.message_id or _stable_msg_id(routing_key, body, published_at)
    envelope = {"i": 1, "timestamp": published_at, "msg_id": msg_id, "topic": routing_key, "msg": message}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), published_at


def _envelope(topic: str, payload: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(f"The message for topic {topic} is not JSON: {exc}.") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("msg"), dict):
        raise MalformedMessage(
            f"The message for topic {topic} is not a fedmsg envelope "
            "(a JSON object whose 'msg' is an object)."
        )
    return envelope


def _published_at(headers: dict[str, Any], properties: pika.BasicProperties) -> float:
    sent_at = headers.get(SENT_AT_HEADER)
    if isinstance(sent_at, bytes):
        sent_at = sent_at.decode("utf-8", "replace")
    if isinstance(sent_at, str):
        try:
            moment = datetime.fromisoformat(sent_at)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    if isinstance(properties.timestamp, int):
        return float(properties.timestamp)
    return time.time()


def _stable_msg_id(routing_key: str, body: bytes, published_at: float) -> str:
    # A redelivered message without a message_id must keep one id, so that duplicates are seen.
    name = uuid.uuid5(uuid.NAMESPACE_URL, f"{routing_key}\n{published_at}\n{body.hex()}")
    return f"{datetime.fromtimestamp(published_at, UTC).year}-{name}"
