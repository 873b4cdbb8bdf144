"""The fedmsg envelope: its fields, the sequence, encoding and the guarded decoding of raw bytes."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.errors import MalformedMessage
from ci_pipeline.messages.envelope import (
    MAX_NESTING,
    MAX_PAYLOAD_BYTES,
    decode,
    encode,
    make_envelope,
    new_msg_id,
    next_sequence,
)

TOPIC = "org.centos.prod.ci.pipeline.package.queued"
MSG_ID = re.compile(r"[0-9]{4}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class _StampingSigner:
    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return {**envelope, "crypto": "x509", "signature": "c2ln", "certificate": "Y2VydA=="}


def test_an_unsigned_envelope_has_the_fedmsg_fields_and_no_crypto() -> None:
    before = int(time.time())
    envelope = make_envelope(TOPIC, {"repo": "vim"})
    assert set(envelope) == {"i", "timestamp", "msg_id", "topic", "msg"}
    assert envelope["topic"] == TOPIC and envelope["msg"] == {"repo": "vim"}
    assert isinstance(envelope["timestamp"], int) and before <= envelope["timestamp"] <= time.time()
    assert MSG_ID.fullmatch(envelope["msg_id"])
    assert envelope["msg_id"].startswith(time.strftime("%Y-", time.gmtime(envelope["timestamp"])))


def test_a_signer_adds_crypto() -> None:
    envelope = make_envelope(TOPIC, {}, signer=_StampingSigner())
    assert envelope["crypto"] == "x509"


def test_the_body_is_copied_not_shared() -> None:
    body = {"repo": "vim"}
    envelope = make_envelope(TOPIC, body)
    body["repo"] = "emacs"
    assert envelope["msg"]["repo"] == "vim"


def test_the_sequence_increases_and_is_unique_across_threads() -> None:
    first = make_envelope(TOPIC, {})["i"]
    assert make_envelope(TOPIC, {})["i"] > first
    seen: list[int] = []

    def draw() -> None:
        seen.extend(next_sequence() for _ in range(2000))

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == len(seen) == 16000


def test_msg_id_year_follows_the_given_time() -> None:
    assert new_msg_id(1501741878).startswith("2017-")


def test_encoding_is_compact_utf8_json() -> None:
    envelope = {"i": 1, "topic": TOPIC, "msg": {"summary": "café"}}
    payload = encode(envelope)
    assert b" " not in payload
    assert "café".encode() in payload
    assert decode(payload) == envelope


def test_every_seed_envelope_survives_a_round_trip(seed_envelopes: dict[str, dict[str, Any]]) -> None:
    for envelope in seed_envelopes.values():
        assert decode(encode(envelope)) == envelope


@settings(max_examples=100, deadline=None)
@given(
    body=st.dictionaries(
        st.text(max_size=10),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=5), inner, max_size=3),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_any_json_body_survives_a_round_trip(body: dict[str, Any]) -> None:
    try:
        payload = encode(make_envelope(TOPIC, body))
    except MalformedMessage:
        return  # a lone surrogate cannot be UTF-8; refusing it is the contract
    assert decode(payload)["msg"] == body


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[" * 50000 + b"]" * 50000, "nested more than 64 levels deep"),
        (b'{"a": "\\ud800"}', "unpaired surrogate"),
        (b"[1, 2]", "must be a JSON object, not a list"),
        (b'"text"', "not a string"),
        (b"null", "not null"),
        (b"", "not valid JSON"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        decode(payload)


def test_the_size_limit_is_one_mebibyte() -> None:
    padding = MAX_PAYLOAD_BYTES - len(b'{"a":""}')
    at_limit = b'{"a":"' + b"x" * padding + b'"}'
    assert len(at_limit) == MAX_PAYLOAD_BYTES
    assert decode(at_limit)["a"] == "x" * padding
    with pytest.raises(MalformedMessage, match="more than the 1048576 allowed"):
        decode(at_limit + b" ")


def test_what_json_cannot_carry_is_refused_at_encoding() -> None:
    with pytest.raises(MalformedMessage, match="cannot be encoded"):
        encode({"when": object()})
    with pytest.raises(MalformedMessage, match="cannot be encoded"):
        encode({"text": "\ud800"})
    with pytest.raises(MalformedMessage, match="cannot be encoded"):
        encode({"nan": float("nan")})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_to_an_object_or_malformed(payload: bytes) -> None:
    try:
        assert isinstance(decode(payload), dict)
    except MalformedMessage as exc:
        assert str(exc).endswith(".")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


_JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ab")
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=200,
)


def _nest(value: Any, levels: int) -> Any:
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


@given(_JSON_VALUES, st.integers(min_value=0, max_value=80))
@settings(max_examples=300)
def test_the_nesting_limit_is_exactly_the_depth_of_the_parsed_document(value: Any, levels: int) -> None:
    document = {"msg": _nest(value, levels)}
    payload = encode(document)
    if _depth(document) > MAX_NESTING:
        with pytest.raises(MalformedMessage, match="nested more than"):
            decode(payload)
    else:
        assert decode(payload) == document


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 200_000,
        b'{"a":' * 100_000,
        b"[" * 70 + b"]" * 70,
        b'{"k":' + b"[" * 1000 + b'"x"' + b"]" * 1000 + b"}",
    ],
)
def test_deep_nesting_is_refused_before_parsing(payload: bytes) -> None:
    with pytest.raises(MalformedMessage, match=f"nested more than {MAX_NESTING} levels"):
        decode(payload)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '"' + "[" * 500 + '\\"' + "{" * 500 + '"'
    assert decode(f'{{"a": {text}}}'.encode()) == {"a": "[" * 500 + '"' + "{" * 500}


def test_a_wide_shallow_message_is_accepted() -> None:
    payload = b'{"a":[' + b"[[[[]]]]," * 50_000 + b"[]]}"
    assert len(decode(payload)["a"]) == 50_001
