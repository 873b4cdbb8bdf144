"""Quoting message values inside reasons: escaped, one line, short, and exact when short."""

from __future__ import annotations

import ast
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.messages.quoting import DEFAULT_LIMIT, TRUNCATION_MARKER, quote_value

LIMITS = st.integers(min_value=2, max_value=200)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(), children, max_size=6),
    max_leaves=30,
)
SHORT_PRINTABLE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
    max_size=(DEFAULT_LIMIT - 2) // 2,
).filter(str.isprintable)


def _is_safe(quoted: str, limit: int) -> bool:
    return len(quoted) <= limit + len(TRUNCATION_MARKER) and quoted.isprintable()


@given(text=st.text(), limit=LIMITS)
def test_any_text_is_quoted_within_the_limit_without_control_characters(text: str, limit: int) -> None:
    assert _is_safe(quote_value(text, limit), limit)


@given(value=JSON_VALUES, limit=LIMITS)
def test_any_json_value_is_quoted_within_the_limit_without_control_characters(value: Any, limit: int) -> None:
    assert _is_safe(quote_value(value, limit), limit)


@given(text=SHORT_PRINTABLE)
def test_a_short_printable_text_reads_back_exactly(text: str) -> None:
    quoted = quote_value(text)
    assert not quoted.endswith(TRUNCATION_MARKER)
    assert ast.literal_eval(quoted) == text


@given(text=st.text(), limit=LIMITS)
def test_a_shortened_text_shows_an_exact_head_of_the_value(text: str, limit: int) -> None:
    quoted = quote_value(text, limit)
    if quoted.endswith(TRUNCATION_MARKER):
        head = ast.literal_eval(quoted.removesuffix(TRUNCATION_MARKER))
        assert text.startswith(head) and len(head) < len(text)
    else:
        assert ast.literal_eval(quoted) == text


def test_control_characters_nuls_and_line_breaks_are_escaped() -> None:
    assert quote_value("a\x00b\nc\x1b[31m\u2028'\"\\") == "'a\\x00b\\nc\\x1b[31m\\u2028\\'\"\\\\'"
    assert quote_value("\ud800") == "'\\ud800'"
    assert quote_value(b"\x00\xff") == "b'\\x00\\xff'"


def test_a_ten_megabyte_value_costs_what_its_head_costs() -> None:
    started = time.perf_counter()
    for value in ("x" * 10_000_000, ["y" * 1000] * 100_000, {"k": "\x00" * 10_000_000}, b"z" * 10_000_000):
        quoted = quote_value(value)
        assert _is_safe(quoted, DEFAULT_LIMIT) and quoted.endswith(TRUNCATION_MARKER)
    assert time.perf_counter() - started < 1.0


def test_integers_too_long_to_print_are_named_by_type() -> None:
    assert quote_value(7) == "7"
    assert quote_value(10**5000) == "<int>"
