"""Any value reaches every text and JSON column of the store: NUL, lone surrogates, long text, odd JSON."""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, Column, Enum, String, Text, insert, select

from ci_pipeline.store.db import Store
from ci_pipeline.store.models import INDEXED_TEXT_LENGTH, Base, ResultData, ResultTestcase, utcnow
from ci_pipeline.store.results import ensure_testcases
from ci_pipeline.store.safe_types import (
    MARKER,
    REPLACEMENT,
    SafeJSON,
    SafeString,
    SafeText,
    storable_json,
    storable_text,
    stored_form,
)

#: Any Unicode code point, lone surrogates included (what surrogateescape and json.loads can make).
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))


def four_byte_text(count: int, seed: int) -> str:
    """``count`` characters that each take four bytes in UTF-8, in an order no compression shortens."""
    generator = random.Random(seed)
    return "".join(chr(generator.randrange(0x10000, 0x10FFFF)) for _ in range(count))


POISON = "nul\x00 lone\udc80 pair\ud83d\ude00 " + four_byte_text(6000, 1)
POISON_JSON: dict[str, Any] = {
    "k\x00ey": ["v\x00", {"\udc80": "x\ud800", "nan": math.nan, "inf": -math.inf}, ("t\x00",)],
    "n": 1,
    "text": POISON,
}


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


@given(ANY_TEXT, st.integers(min_value=1, max_value=50))
def test_storable_text_is_encodable_fits_and_keeps_what_was_storable(value: str, length: int) -> None:
    stored = storable_text(value, length)
    assert _encodable(stored) and len(stored) <= length
    kept = value.replace("\x00", REPLACEMENT)
    kept = "".join(REPLACEMENT if 0xD800 <= ord(char) <= 0xDFFF else char for char in kept)
    if len(kept) <= length:
        assert stored == kept
    else:
        assert stored == kept[: length - 1] + MARKER


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children) | st.dictionaries(ANY_TEXT, children),
))
def test_storable_json_leaves_no_string_a_store_refuses(value: Any) -> None:
    def check(item: Any) -> None:
        if isinstance(item, str):
            assert _encodable(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                check(key)
                check(child)
        elif isinstance(item, list):
            for child in item:
                check(child)
        elif isinstance(item, float):
            assert math.isfinite(item)

    check(storable_json(value))


def test_every_text_and_json_column_has_a_safe_type() -> None:
    # A state column (an Enum) takes only its members, never free text: mypy checks its writers.
    plain = [
        f"{column.table.name}.{column.name}"
        for column in _columns()
        if isinstance(column.type, (String, Text, JSON)) and not isinstance(column.type, Enum)
    ]
    assert plain == []
    assert sum(isinstance(column.type, (SafeString, SafeText, SafeJSON)) for column in _columns()) > 40


def _columns() -> list[Column[Any]]:
    return [column for table in Base.metadata.sorted_tables for column in table.columns]


def _poisoned_value(column: Column[Any]) -> Any:
    if isinstance(column.type, Enum):
        return column.type.enums[0]
    if isinstance(column.type, (SafeJSON, JSON)):
        return POISON_JSON
    if isinstance(column.type, (SafeString, SafeText, String)):
        return POISON
    python_type = column.type.python_type
    if python_type is bool:
        return False
    if python_type is datetime:
        return utcnow()
    if python_type is bytes:
        return b"\x00"
    return 1  # every integer: ids and foreign keys all point at the first row of each table


def _expected(column: Column[Any]) -> Any:
    if isinstance(column.type, SafeJSON):
        return storable_json(POISON_JSON)
    return storable_text(POISON, column.type.length)


def test_every_text_and_json_column_takes_nul_surrogates_long_text_and_odd_json(store: Store) -> None:
    with store.session() as session:
        for table in Base.metadata.sorted_tables:
            session.execute(insert(table).values({c.name: _poisoned_value(c) for c in table.columns}))
    checked = 0
    with store.session() as session:
        for table in Base.metadata.sorted_tables:
            row = session.execute(select(table)).one()._mapping
            for column in table.columns:
                if isinstance(column.type, (SafeString, SafeText, SafeJSON)):
                    assert row[column.name] == _expected(column), f"{table.name}.{column.name}"
                    checked += 1
    assert checked == sum(isinstance(c.type, (SafeString, SafeText, SafeJSON)) for c in _columns())
    assert storable_json(POISON_JSON)["k\ufffdey"][1] == {"\ufffd": "x\ufffd", "nan": "nan", "inf": "-inf"}


def test_a_shortened_value_ends_with_the_marker_and_fits_its_column(store: Store) -> None:
    long_name = "ci-pipeline.build." + "x" * 300
    with store.session() as session:
        ensure_testcases(session, [long_name, long_name + "-other-tail"])
    with store.session() as session:
        names = list(session.execute(select(ResultTestcase.name)).scalars())
    # Two names alike in their first 255 characters are one test case, not a duplicate key.
    assert names == [long_name[:254] + MARKER] == [stored_form(ResultTestcase.name, long_name)]


def test_the_result_data_index_takes_the_longest_key_and_value(store: Store) -> None:
    # Four bytes a character and nothing to compress: the worst case for PostgreSQL's B-tree entry.
    key, value = four_byte_text(1000, 2), four_byte_text(5000, 3)
    with store.session() as session:
        table = Base.metadata.tables["results"]
        session.execute(insert(table).values(id=1, testcase="t", outcome="PASSED"))
        session.execute(insert(ResultData).values(result_id=1, key=key, value=value))
    with store.session() as session:
        stored = session.execute(select(ResultData.key, ResultData.value)).one()
    assert stored == (key[:254] + MARKER, value[: INDEXED_TEXT_LENGTH - 1] + MARKER)


def test_the_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
