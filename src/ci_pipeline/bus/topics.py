"""The one topic-pattern matcher of every bus member, with SQLite ``GLOB`` semantics.

The SQLite member filters topics in SQL with ``GLOB``; the memory and AMQP members call
:func:`topic_matches`, which follows the same rules so a subscription sees the same messages on every
member: ``*`` is any run of characters (dots included), ``?`` one character, ``[...]`` one character of
the set (``[^...]`` one not in it, ``a-z`` a range, a leading ``]`` a member), and a pattern whose
bracket never closes matches nothing. Matching is case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_NEVER = "(?!)"


def _bracket(pattern: str, start: int) -> tuple[str, int] | None:
    """The regex of the set opening at ``pattern[start]`` and the index after it; None if unclosed."""
    index = start + 1
    invert = index < len(pattern) and pattern[index] == "^"
    index += invert
    members: list[str] = []
    if index < len(pattern) and pattern[index] == "]":
        members.append(re.escape("]"))
        index += 1
    prior = ""
    while index < len(pattern) and pattern[index] != "]":
        char = pattern[index]
        following = pattern[index + 1] if index + 1 < len(pattern) else ""
        # As SQLite reads it: a dash between a member and a character other than ']' is a range.
        if char == "-" and following not in ("]", "") and prior:
            if prior <= following:
                members[-1] = f"{re.escape(prior)}-{re.escape(following)}"
            prior = ""
            index += 2
            continue
        members.append(re.escape(char))
        prior = char
        index += 1
    if index >= len(pattern):
        return None
    if not members:
        return ("." if invert else _NEVER), index + 1
    return "[" + ("^" if invert else "") + "".join(members) + "]", index + 1


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[":
            bracket = _bracket(pattern, index)
            if bracket is None:
                return re.compile(_NEVER)
            regex, index = bracket
            parts.append(regex)
            continue
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def topic_matches(topic: str, patterns: Sequence[str]) -> bool:
    """Whether ``topic`` matches one of the glob ``patterns`` (SQLite ``GLOB`` rules)."""
    return any(_compile(pattern).fullmatch(topic) is not None for pattern in patterns)
