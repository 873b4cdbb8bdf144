"""The trends' figures of past days, kept for a while: a closed day's stages have all ended, so only
today's are read on every request (a rerun may still move a past stage into today: the past days are
read again after :data:`CLOSED_DAYS_TTL`)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from ci_pipeline.store.db import Store
from ci_pipeline.store.trends import DailyStageFigures, daily_stage_figures

CLOSED_DAYS_TTL = 600.0
#: How many days the trends page shows, today included.
TREND_DAYS = 30


class TrendCache:
    """Figures per stage and day over the last ``days`` days: past days cached, today read live."""

    def __init__(self, days: int) -> None:
        self.days = days
        self._closed: list[DailyStageFigures] = []
        self._key: datetime | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def figures(self, store: Store, today: datetime) -> list[DailyStageFigures]:
        """Every stage's figures per day from ``days - 1`` days before ``today`` (midnight UTC) on."""
        with self._lock:
            if self._key != today or time.monotonic() - self._read_at > CLOSED_DAYS_TTL:
                with store.session() as session:
                    self._closed = daily_stage_figures(session, today - timedelta(days=self.days - 1), today)
                self._key, self._read_at = today, time.monotonic()
            closed = self._closed
        with store.session() as session:
            return [*closed, *daily_stage_figures(session, today)]
