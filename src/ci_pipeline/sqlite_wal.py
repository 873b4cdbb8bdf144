"""Switching an SQLite file to WAL safely when several processes open it at once (bus and store)."""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch the file to WAL (once per file); return the journal mode it ends in.

    Switching needs the file to itself, and SQLite answers "locked" at once rather than waiting
    when another process is opening it at the same moment: so wait and look again.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
            if mode == "wal":
                return mode
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
