"""fedora-messaging's wire format: how a fedmsg envelope becomes an AMQP message, and back.

fedora-messaging puts the message body alone in the AMQP body (JSON, utf-8) and the rest in AMQP
properties: ``message_id``, persistent ``delivery_mode``, and the headers ``fedora_messaging_schema``
(the name a consumer looks its message class up by; an unknown name falls back to ``base.message``
with a warning, so ``base.message`` is the default here), ``fedora_messaging_severity`` (10 DEBUG,
20 INFO, 30 WARNING, 40 ERROR), ``sent-at`` (ISO 8601, UTC) and ``priority`` (mirrors the property).
The topic is the routing key. With ``whole_envelope`` the fedmsg envelope itself is the body and the
header ``ci_pipeline_envelope: fedmsg`` says so. A received fedora-messaging message becomes an envelope
whose ``msg_id`` is the ``message_id`` (a bare UUID gets the year prefix fedmsg ids have), ``timestamp``
is ``sent-at``, ``topic`` the routing key and ``headers`` the AMQP headers.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika

from ci_pipeline.errors import MalformedMessage
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages import envelope as envelope_module
from ci_pipeline.messages.envelope import new_msg_id

log = get_logger(__name__)

SCHEMA_HEADER = "fedora_messaging_schema"
SEVERITY_HEADER = "fedora_messaging_severity"
SENT_AT_HEADER = "sent-at"
PRIORITY_HEADER = "priority"
ENVELOPE_HEADER = "ci_pipeline_envelope"
BASE_SCHEMA = "base.message"
INFO = 20
WARNING = 30
PERSISTENT = 2
_YEAR_10000 = 253402300800.0
_FEDMSG_ID = re.compile(r"^[0-9]{4}-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class WireMessage:
    """An AMQP body with its properties, ready for ``basic_publish``."""

    routing_key: str
    body: bytes
    properties: pika.BasicProperties


def encode(topic: str, payload: bytes, *, whole_envelope: bool = False,
           schema: str = BASE_SCHEMA) -> WireMessage:
    """The AMQP message for a fedmsg envelope published on ``topic``.

    A payload that is not an envelope goes out unchanged as ``application/octet-stream`` with the
    header ``ci_pipeline_envelope: raw`` (fedora-messaging consumers reject it; ours get it back whole).
    """
    envelope = _envelope(payload)
    if envelope is None:
        return _raw(topic, payload)
    stamp = envelope.get("timestamp")
    timestamp = time.time()
    if isinstance(stamp, int | float) and not isinstance(stamp, bool) and 0 <= stamp < _YEAR_10000:
        timestamp = float(stamp)
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
        delivery_mode=PERSISTENT,
        headers=headers,
        message_id=str(envelope.get("msg_id") or new_msg_id(timestamp)),
        timestamp=int(timestamp),
    )
    return WireMessage(topic, envelope_module.encode(envelope if whole_envelope else envelope["msg"]),
                       properties)


def decode(routing_key: str, properties: pika.BasicProperties, body: bytes) -> tuple[bytes, float]:
    """Our payload (fedmsg envelope bytes) and its publication time for a received AMQP message.

    Never raises, whatever the broker hands over: a body that is too large, too deep or not a JSON
    object is passed on unchanged so that the trigger dead-letters it whole, with the reason.
    """
    headers = properties.headers if isinstance(properties.headers, dict) else {}
    published_at = _published_at(headers, properties)
    if headers.get(ENVELOPE_HEADER) in ("fedmsg", "raw"):
        return body, published_at
    try:
        envelope_module.check_limits(body)
        message = json.loads(body.decode(properties.content_encoding or "utf-8"))
    except (MalformedMessage, UnicodeDecodeError, LookupError, ValueError):
        return body, published_at
    if not isinstance(message, dict):
        return body, published_at
    envelope = {
        "i": 1,
        "timestamp": published_at,
        "msg_id": _fedmsg_id(properties.message_id, routing_key, body, published_at),
        "topic": routing_key,
        "msg": message,
        "headers": {key: value for key, value in headers.items() if _is_plain_json(value)},
    }
    try:
        return envelope_module.encode(envelope), published_at
    except MalformedMessage:
        # A lone surrogate escape in the body: the trigger dead-letters the original bytes.
        return body, published_at


def _is_plain_json(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int)


def _envelope(payload: bytes) -> dict[str, Any] | None:
    try:
        envelope = envelope_module.decode(payload)
    except MalformedMessage:
        return None
    return envelope if isinstance(envelope.get("msg"), dict) else None


def _raw(topic: str, payload: bytes) -> WireMessage:
    log.warning("The payload for topic %s is not a fedmsg envelope; it is published unchanged.", topic)
    properties = pika.BasicProperties(
        content_type="application/octet-stream",
        delivery_mode=PERSISTENT,
        headers={ENVELOPE_HEADER: "raw", SENT_AT_HEADER: datetime.now(UTC).isoformat()},
        message_id=new_msg_id(),
        timestamp=int(time.time()),
    )
    return WireMessage(topic, payload, properties)


def _published_at(headers: dict[str, Any], properties: pika.BasicProperties) -> float:
    sent_at = headers.get(SENT_AT_HEADER)
    if isinstance(sent_at, bytes):
        sent_at = sent_at.decode("utf-8", "replace")
    candidates: list[float] = []
    if isinstance(sent_at, str):
        try:
            moment = datetime.fromisoformat(sent_at)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            candidates.append(moment.timestamp())
        except (ValueError, OverflowError):
            pass
    if isinstance(properties.timestamp, int) and not isinstance(properties.timestamp, bool):
        candidates.append(float(properties.timestamp))
    # A time before the epoch or past year 9999 is a sender's mistake; it never reaches a column.
    return next((moment for moment in candidates if 0 <= moment < _YEAR_10000), time.time())


def _fedmsg_id(message_id: object, routing_key: str, body: bytes, published_at: float) -> str:
    """A ``<year>-<uuid>`` id: fedora-messaging's ids are bare UUIDs, which get the year of sending."""
    year = datetime.fromtimestamp(published_at, UTC).year
    if isinstance(message_id, str):
        if _FEDMSG_ID.match(message_id):
            return message_id
        try:
            return f"{year}-{uuid.UUID(message_id)}"
        except ValueError:
            pass
    # No usable id: derive one, so that a redelivery keeps its id and duplicates are seen.
    return f"{year}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{routing_key}|{message_id}|{body.hex()}')}"
