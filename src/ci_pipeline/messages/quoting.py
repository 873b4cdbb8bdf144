"""Quote a value from a message inside a human-readable reason: escaped, on one line, short.

A reason (a dead-letter's, an ignore decision's, an error sentence) is stored, logged and shown on
the dashboard, so a value it quotes from outside must not bring control characters, NULs, lone
surrogates or megabytes with it. :func:`quote_value` is the one way reasons quote such values.
"""

from __future__ import annotations

import reprlib

#: What follows a quoted value that was cut short.
TRUNCATION_MARKER = "..."
#: The default number of characters a quoted value may take before it is cut.
DEFAULT_LIMIT = 80

def quote_value(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as a single-quoted, backslash-escaped literal of at most ``limit`` characters.

    A string is quoted as Python's ``repr`` would, always with single quotes, so a short printable
    string reads back with :func:`ast.literal_eval`. Anything longer than ``limit`` is cut and
    followed by :data:`TRUNCATION_MARKER`; the result never holds a non-printable character.
    """
    limit = max(limit, 2)
    if isinstance(value, str):
        return _quote_text(value, limit)
    if isinstance(value, bytes | bytearray):
        # Only the head is ever shown, so only the head is converted.
        return _shorten(repr(bytes(value[:limit])), limit, cut=len(value) > limit)
    # Containers are summarised, never walked whole: a 10 MB list costs what its head costs.
    summary = reprlib.Repr()
    summary.maxlevel = 2
    summary.maxdict = summary.maxlist = summary.maxtuple = summary.maxset = summary.maxfrozenset = 4
    summary.maxstring = summary.maxother = summary.maxlong = limit
    try:
        text = summary.repr(value)
    except ValueError:
        # An integer too long to print (Python refuses more than 4300 digits).
        text = f"<{type(value).__name__}>"
    return _shorten(text, limit, cut=False)


def _quote_text(text: str, limit: int) -> str:
    pieces = ["'"]
    length = 1
    # Escaping one character gives at least one character, so the head is all that can show.
    for char in text[:limit]:
        piece = _escape(char)
        if length + len(piece) + 1 > limit:
            return "".join(pieces) + "'" + TRUNCATION_MARKER
        pieces.append(piece)
        length += len(piece)
    # Had the text been longer than ``limit``, its head alone would not have fitted: it is whole.
    return "".join(pieces) + "'"


def _escape(char: str) -> str:
    if char == "'":
        return "\\'"
    if char == '"':
        return char
    # repr escapes exactly the characters str.isprintable() refuses (and the backslash).
    return repr(char)[1:-1]


def _shorten(text: str, limit: int, *, cut: bool) -> str:
    # A repr is printable already; the check guards objects whose own __repr__ is not.
    printable = "".join(char if char.isprintable() else "?" for char in text[:limit])
    return printable + TRUNCATION_MARKER if cut or len(text) > limit else printable
