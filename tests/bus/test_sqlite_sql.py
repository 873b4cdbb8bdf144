"""The SQL topic filter agrees with the in-memory glob match, so both members pick the same messages."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.bus.sqlite_sql import topic_clause
from ci_pipeline.bus.topics import topic_matches

TOPICS = st.text(alphabet="ab.-]^", max_size=8)
PATTERNS = st.lists(st.text(alphabet="ab.*?[]^-", max_size=6), max_size=3)


@given(patterns=PATTERNS, topic=TOPICS)
def test_sql_glob_filter_matches_like_the_topic_matcher(patterns: list[str], topic: str) -> None:
    clause, params = topic_clause(patterns)
    with closing(sqlite3.connect(":memory:")) as conn:
        (matched,) = conn.execute(
            f"SELECT {clause} FROM (SELECT :topic AS topic) AS m", {**params, "topic": topic}
        ).fetchone()

    assert bool(matched) == topic_matches(topic, patterns)
