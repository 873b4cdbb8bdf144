"""The fedmsg envelope: ``{i, timestamp, msg_id, topic, msg}``, plus ``crypto`` once signed.

Encoding is compact UTF-8 JSON. Decoding is where raw bytes from outside first become a message, so
it bounds the size and the nesting depth before parsing (a parser recursing into ``[[[[...`` is
what an attacker wants) and turns every way of not being a JSON object into one MalformedMessage.
Signing is a seam: pass a :class:`Signer` to :func:`make_envelope`; without one the envelope is
unsigned and has no ``crypto`` key.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from ci_pipeline.errors import MalformedMessage

#: The largest payload :func:`decode` accepts.
MAX_PAYLOAD_BYTES = 1024 * 1024
#: The deepest nesting of arrays and objects :func:`decode` accepts (fedmsg bodies use about 5).
MAX_NESTING = 64

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_INNERMOST_PAIR = re.compile(rb"[\[{][\]}]")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


class Signer(Protocol):
    """Signs an envelope: returns it with ``crypto`` (``x509``) and its signature fields added."""

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The signed copy of ``envelope``."""
        ...


def next_sequence() -> int:
    """The next value of this process's envelope sequence ``i`` (thread-safe, from 1)."""
    with _sequence_lock:
        return next(_sequence)


def new_msg_id(now: float | None = None) -> str:
    """A fresh fedmsg message id, ``<year>-<uuid4>``."""
    year = time.gmtime(time.time() if now is None else now).tm_year
    return f"{year}-{uuid.uuid4()}"


def make_envelope(topic: str, body: Mapping[str, Any], *, signer: Signer | None = None) -> dict[str, Any]:
    """Wrap ``body`` in a fedmsg envelope for ``topic``; signed only when a signer is given."""
    now = time.time()
    envelope: dict[str, Any] = {
        "i": next_sequence(),
        "timestamp": int(now),
        "msg_id": new_msg_id(now),
        "topic": topic,
        "msg": dict(body),
    }
    return signer.sign(envelope) if signer is not None else envelope


def encode(envelope: Mapping[str, Any]) -> bytes:
    """The envelope as compact UTF-8 JSON bytes."""
    try:
        return _ENCODER.encode(envelope).encode("utf-8")
    except (TypeError, ValueError) as exc:
        # UnicodeEncodeError (a lone surrogate) is a ValueError too.
        raise MalformedMessage(f"The message cannot be encoded as JSON: {exc}.") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.dumps/json.loads with options construct a new coder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def check_limits(payload: bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> None:
    """MalformedMessage if ``payload`` is larger than ``max_bytes`` or nested deeper than any message
    may be.

    Checked on the raw bytes, before any parser sees them.
    """
    if len(payload) > max_bytes:
        raise MalformedMessage(f"The message is {len(payload)} bytes, more than the {max_bytes} allowed.")
    if _nesting_exceeds(bytes(payload), MAX_NESTING):
        raise MalformedMessage(f"The message is nested more than {MAX_NESTING} levels deep.")


def _nesting_exceeds(payload: bytes, limit: int) -> bool:
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False
    # Brackets inside strings do not nest; an unterminated string only makes the check stricter.
    brackets = _JSON_STRING.sub(b"", payload).translate(None, delete=_NOT_BRACKETS)
    # Each pass removes the innermost level everywhere at C speed, so after ``passes`` passes
    # what is left is only as deep as the rest: a wide message costs a few passes, not a loop.
    passes = 0
    while brackets and passes < limit:
        brackets, removed = _INNERMOST_PAIR.subn(b"", brackets)
        if not removed:
            break
        passes += 1
    depth = 0
    for byte in brackets:
        depth += _DEPTH_STEP[byte]
        if depth + passes > limit:
            return True
        if depth < 0:
            return False  # not JSON: the parser says so
    return False


def decode(payload: bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Parse raw bytes into a JSON object; MalformedMessage if larger than ``max_bytes``, too deep, not
    UTF-8, JSON or an object."""
    check_limits(payload, max_bytes)
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"The message is not UTF-8 text (bad byte at {exc.start}).") from exc
    try:
        document = _DECODER.decode(text)
    except ValueError as exc:
        # JSONDecodeError, NaN/Infinity, and integers too long to convert are all ValueErrors.
        reason = str(exc).split(":")[0]
        raise MalformedMessage(f"The message is not valid JSON: {reason}.") from exc
    if not isinstance(document, dict):
        raise MalformedMessage(f"The message must be a JSON object, not {_json_kind(document)}.")
    if _SURROGATE_ESCAPE.search(text):
        _reject_lone_surrogates(document)
    return document


def _reject_lone_surrogates(document: dict[str, Any]) -> None:
    # A \ud800 escape without its pair decodes to a string no UTF-8 store or bus can carry later.
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedMessage("The message is not valid JSON: it has an unpaired surrogate escape.") from exc


def _json_kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), "another value")
