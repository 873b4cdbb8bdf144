"""The one topic matcher agrees with SQLite GLOB, which the SQLite member filters with."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.bus.topics import topic_matches

# Topic characters plus every character GLOB gives a meaning to, so sets, ranges and negation occur.
TOPICS = st.text(alphabet="abc.-]^", min_size=0, max_size=10)
PATTERNS = st.text(alphabet="abc.-]^*?[", min_size=0, max_size=10)


@pytest.fixture(scope="module")
def sqlite() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


def glob(connection: sqlite3.Connection, topic: str, pattern: str) -> bool:
    return bool(connection.execute("SELECT ? GLOB ?", (topic, pattern)).fetchone()[0])


@given(topic=TOPICS, pattern=PATTERNS)
def test_agrees_with_sqlite_glob(sqlite: sqlite3.Connection, topic: str, pattern: str) -> None:
    assert topic_matches(topic, [pattern]) == glob(sqlite, topic, pattern)


WORD = st.text(alphabet="abcxyz", min_size=1, max_size=4)
GLOB_WORD = st.one_of(st.sampled_from(["*", "?", "a*", "[a-c]*", "[^x]?", "[]a]"]), WORD)


@given(topic=st.lists(WORD, min_size=1, max_size=6).map(".".join),
       pattern=st.lists(GLOB_WORD, min_size=1, max_size=5).map(".".join))
def test_agrees_with_sqlite_glob_on_dotted_topics(
    sqlite: sqlite3.Connection, topic: str, pattern: str
) -> None:
    assert topic_matches(topic, [pattern]) == glob(sqlite, topic, pattern)


@pytest.mark.parametrize(
    ("topic", "pattern", "expected"),
    [
        ("org.centos.prod.ci.pipeline.package.complete", "org.centos.*", True),
        ("org.centos.prod.ci.pipeline.package.complete", "org.centos.*.queued", False),
        ("b", "[^a]", True),
        ("a", "[^a]", False),
        ("!", "[!a]", True),
        ("a", "[a", False),
        ("]", "[]]", True),
        ("b", "[c-a]", False),
        ("c", "[c-a]", True),
        ("-", "[a-]", True),
    ],
)
def test_glob_rules(sqlite: sqlite3.Connection, topic: str, pattern: str, expected: bool) -> None:
    assert topic_matches(topic, [pattern]) is expected
    assert glob(sqlite, topic, pattern) is expected


def test_any_of_several_patterns() -> None:
    assert topic_matches("a.b", ["x", "a.?"])
    assert not topic_matches("a.b", [])
