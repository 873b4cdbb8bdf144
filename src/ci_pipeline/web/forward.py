"""Forwarding every result to another ResultsDB-compatible service, durably.

The results table is the queue: a cursor row per target remembers the last result the target took.
Results after it are posted in id order; a failure leaves the cursor where it is and waits longer
each time (exponential backoff, capped), so nothing is lost while the target is down and nothing
is skipped when it comes back.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import httpx

from ci_pipeline.logcontext import get_logger
from ci_pipeline.store import forwarding
from ci_pipeline.store.clock import aware, utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.results import sync_stage_results
from ci_pipeline.store.rows import Result
from ci_pipeline.web.resultsdb_query import iso

log = get_logger(__name__)

BATCH = 100
BASE_DELAY = 1.0
MAX_DELAY = 300.0


def forward_payload(row: Result) -> dict[str, Any]:
    """A stored result as a ResultsDB ``POST /results`` body."""
    return {
        "testcase": {"name": row.testcase},
        "outcome": row.outcome,
        "note": row.note,
        "ref_url": row.ref_url,
        "data": row.data,
        "groups": [row.group_uuid] if row.group_uuid else [],
        "submit_time": iso(row.submit_time),
    }


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row."""
    return float(min(MAX_DELAY, BASE_DELAY * 2 ** max(0, failures - 1)))


class Forwarder:
    """Posts stored results to one ResultsDB API (``.../api/v2.0``), from its cursor on."""

    def __init__(
        self, store: Store, target: str, *, token: str = "", client: httpx.Client | None = None
    ) -> None:
        self.store = store
        self.target = target.rstrip("/")
        self.token = token
        self.client = client or httpx.Client(timeout=10.0)
        self._synced_since: datetime | None = None

    def forward_once(self) -> int:
        """Post the next batch of results if the backoff allows; return how many the target took."""
        cursor = forwarding.cursor(self.store, self.target)
        if cursor.next_attempt_at is not None and utcnow() < aware(cursor.next_attempt_at):
            return 0
        started = utcnow()
        with self.store.session() as session:
            sync_stage_results(session, self._synced_since)
        self._synced_since = started
        rows = forwarding.results_after(self.store, cursor.last_result_id, BATCH)
        sent, error = 0, ""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for row in rows:
            try:
                response = self.client.post(
                    f"{self.target}/results", json=forward_payload(row), headers=headers
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
            if response.status_code >= 300:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                break
            sent += 1
            forwarding.advance(self.store, self.target, row.id)
        if error:
            forwarding.record_failure(self.store, self.target, error, backoff)
            log.warning("forwarding results to %s failed (%s); retrying later", self.target, error)
        return sent

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def run(self, stop: threading.Event, idle: float = 1.0) -> None:
        """Forward until ``stop`` is set, then close the connections."""
        try:
            self._loop(stop, idle)
        finally:
            self.close()

    def _loop(self, stop: threading.Event, idle: float) -> None:
        while not stop.is_set():
            try:
                busy = self.forward_once() > 0
            except Exception:  # a broken store must not end the thread; the next round tries again
                log.exception("forwarding results to %s failed", self.target)
                busy = False
            if not busy:
                stop.wait(idle)

