"""The store's clock: every time it keeps is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """A stored time with its UTC zone (SQLite hands times back without one)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
