"""Hypothesis strategies the message tests share."""

from __future__ import annotations

from hypothesis import strategies as st

from ci_pipeline.messages.fields import GIT_RECEIVE_SUFFIX, load_schema

COMMIT_RULES = load_schema(GIT_RECEIVE_SUFFIX)["properties"]["commit"]["properties"]


def push_field_values(field: str) -> st.SearchStrategy[str]:
    """Values the push schema's own pattern for ``field`` accepts (it owns the rule)."""
    pattern = COMMIT_RULES[field]["pattern"].removesuffix("(?!\\n)")
    return st.from_regex(pattern, fullmatch=True).filter(lambda value: not value.endswith("\n"))
