"""Column types that make any value storable on every store: the one owner of that rule.

PostgreSQL refuses a NUL character in ``text``, ``varchar`` and JSON, and a value longer than a
``varchar(n)``; no driver can encode a lone surrogate (``"\\udc80"``, which ``surrogateescape`` and
``json.loads`` produce) as UTF-8. SQLite takes NUL and long values, so the same bug would hide there.
Whatever a stage, a client or a push hands in, these types turn it, on its way into the store, into
a value every store holds:

- NUL and lone surrogates become U+FFFD (the replacement character);
- a string longer than its column is shortened to the column's length, ending in ``…``;
- JSON is cleaned recursively, keys and values, and a float that JSON cannot carry (NaN,
  infinity) becomes its name as a string.

The DDL is that of the underlying type, so the migrations stay as they are. Values that identify
things (repo, rev, branch, ...) are validated where they enter; these types are the last line for
everything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: What ends a shortened value.
MARKER = "…"
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str, length: int | None = None) -> str:
    """``value`` with NUL and lone surrogates replaced, shortened to ``length`` characters."""
    if _UNSTORABLE.search(value):
        value = _UNSTORABLE.sub(REPLACEMENT, value)
    if length is not None and len(value) > length:
        value = value[: length - len(MARKER)] + MARKER
    return value


def storable_json(value: Any) -> Any:
    """``value`` with every string in it (keys too) storable, and non-finite floats as strings."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {_storable_key(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _storable_key(key: Any) -> Any:
    return storable_text(key) if isinstance(key, str) else key


def stored_form(column: Any, value: str) -> str:
    """The form ``value`` takes in ``column`` (a model attribute with a safe type), e.g. shortened."""
    column_type = column.type
    if isinstance(column_type, (SafeString, SafeText)):
        return column_type.process_bind_param(value, None) or ""
    return value


class SafeString(TypeDecorator[str]):
    """``String(length)`` that stores any text: see the module docstring."""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect | None) -> str | None:
        """The storable form of ``value``, at most the column's length."""
        if not isinstance(value, str):
            return value
        return storable_text(value, self.length)


class SafeText(TypeDecorator[str]):
    """``Text`` that stores any text; ``length`` (characters) shortens it where an index needs it."""

    impl = Text
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__()
        # Kept on this type, not on Text, whose own length would change the DDL.
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect | None) -> str | None:
        """The storable form of ``value``."""
        if not isinstance(value, str):
            return value
        return storable_text(value, self.length)


class SafeJSON(TypeDecorator[Any]):
    """``JSON`` that stores any value: every string and key in it made storable."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect | None) -> Any:
        """The storable form of ``value``."""
        return storable_json(value)
