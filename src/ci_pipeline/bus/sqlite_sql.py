"""The schema and statements of the SQLite bus member, kept apart from the code that runs them.

Statements with ``{match}`` take the topic filter of :func:`topic_clause` (an SQL expression over
``m.topic``) and its named parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

SCHEMA_VERSION = 1

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS messages (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        published_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS subscriptions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        cursor INTEGER NOT NULL DEFAULT 0
    )""",
    # Leases and acks above a subscription's cursor; acked rows go when the cursor passes them.
    """CREATE TABLE IF NOT EXISTS deliveries (
        subscription_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        lease_until REAL NOT NULL,
        holder TEXT NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (subscription_id, position)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS deliveries_unacked_holder ON deliveries (holder) WHERE acked = 0",
)

INSERT_MESSAGE = "INSERT INTO messages (topic, payload, published_at) VALUES (?, ?, ?)"

LATEST = "SELECT COALESCE(MAX(position), 0) FROM messages"

CREATE_SUBSCRIPTION = "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)"

SUBSCRIPTION = "SELECT id, cursor FROM subscriptions WHERE name = ?"

MOVE_CURSOR = "UPDATE subscriptions SET cursor = ? WHERE id = ?"

FORGET_DONE = "DELETE FROM deliveries WHERE subscription_id = ? AND position <= ?"

_NOT_ACKED = """NOT EXISTS (
    SELECT 1 FROM deliveries d
    WHERE d.subscription_id = :sub AND d.position = m.position AND d.acked = 1
)"""

FIRST_UNDONE = f"""
SELECT m.position FROM messages m
WHERE m.position > :cursor AND {{match}} AND {_NOT_ACKED}
ORDER BY m.position LIMIT 1
"""

PENDING = f"""
SELECT COUNT(*) FROM messages m
WHERE m.position > :cursor AND {{match}} AND {_NOT_ACKED}
"""

FETCH = """
SELECT m.position, m.topic, m.payload, m.published_at FROM messages m
LEFT JOIN deliveries d ON d.subscription_id = :sub AND d.position = m.position
WHERE m.position > :cursor AND {match}
  AND (d.position IS NULL OR (d.acked = 0 AND d.lease_until <= :now))
ORDER BY m.position LIMIT :limit
"""

LEASE = """
INSERT INTO deliveries (subscription_id, position, lease_until, holder) VALUES (?, ?, ?, ?)
ON CONFLICT (subscription_id, position) DO UPDATE
SET lease_until = excluded.lease_until, holder = excluded.holder
"""

ACK = """
INSERT INTO deliveries (subscription_id, position, lease_until, holder, acked) VALUES (?, ?, 0, '', 1)
ON CONFLICT (subscription_id, position) DO UPDATE SET acked = 1
"""

RELEASE = "UPDATE deliveries SET lease_until = 0 WHERE holder = ? AND acked = 0"

REPLAY = """
SELECT m.position, m.topic, m.payload, m.published_at FROM messages m
WHERE m.position > :after AND {match}
ORDER BY m.position LIMIT :limit
"""


def topic_clause(topics: Sequence[str]) -> tuple[str, dict[str, str]]:
    """An SQL expression true when ``m.topic`` matches one of the glob patterns, and its parameters."""
    if "*" in topics:
        return "1", {}
    if not topics:
        return "0", {}
    params = {f"topic{index}": pattern for index, pattern in enumerate(topics)}
    return "(" + " OR ".join(f"m.topic GLOB :{name}" for name in params) + ")", params
