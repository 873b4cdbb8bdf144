"""What every request handler shares: the configuration, the store, the policies, and the token check."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Request
from fastapi import Path as PathParam

from ci_pipeline.config import Config
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.results import sync_stage_results
from ci_pipeline.trigger import Trigger
from ci_pipeline.web.broker import BrokerWatch
from ci_pipeline.web.gating import Policy
from ci_pipeline.web.trend_cache import TREND_DAYS, TrendCache

WRITES_DISABLED = (
    "Writes are disabled because no token is configured; set [web] token in the configuration "
    "(or CI_PIPELINE_WEB_TOKEN) and send it as 'Authorization: Bearer <token>'."
)
SYNC_INTERVAL = 1.0
#: The largest id a store row can have (a signed 64-bit integer, on SQLite and PostgreSQL alike).
MAX_ROW_ID = 2**63 - 1
#: An id in a URL path; one no store could hold is a 400, never a database error.
RowId = Annotated[int, PathParam(ge=0, le=MAX_ROW_ID, description="a row id")]
#: A build id in a URL path: a 32-bit column (PostgreSQL's INTEGER).
BuildId = Annotated[int, PathParam(ge=0, le=2**31 - 1, description="a build id")]


@dataclass
class WebState:
    """The application's shared state, kept on ``app.state.web``."""

    config: Config
    store: Store
    policies: list[Policy] = field(default_factory=list)
    _synced_at: float = 0.0
    _synced_since: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _trigger: Trigger | None = None
    _broker: BrokerWatch | None = None
    #: The trends page's figures of past days.
    trends: TrendCache = field(default_factory=lambda: TrendCache(TREND_DAYS))

    def broker_watch(self) -> BrokerWatch:
        """The watch on the Celery broker and workers, made on first use."""
        with self._lock:
            if self._broker is None:
                self._broker = BrokerWatch(self.config)
            return self._broker

    def trigger(self) -> Trigger:
        """The trigger that decides pushes given through the API, made once: its tracking rules read
        the treefile and its repos' metadata."""
        with self._lock:
            if self._trigger is None:
                self._trigger = Trigger(self.config, self.store)
            return self._trigger

    def sync_results(self, *, force: bool = False) -> None:
        """Bring stage results up to date with the stage rows, at most once a second unless forced."""
        with self._lock:
            if not force and time.monotonic() - self._synced_at < SYNC_INTERVAL:
                return
            started = utcnow()
            with self.store.session() as session:
                sync_stage_results(session, self._synced_since)
            self._synced_since, self._synced_at = started, time.monotonic()


def web_state(request: Request) -> WebState:
    """The shared state of the app serving ``request``."""
    state: WebState = request.app.state.web
    return state


def token_matches(expected: str, given: str | None) -> bool:
    """Whether ``given`` is the configured token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def check_token(state: WebState, authorization: str | None, body_token: str | None = None) -> None:
    """Refuse a write without the configured bearer token (403 when none is configured, 401 when wrong)."""
    expected = state.config.web.token
    if not expected:
        raise HTTPException(status_code=403, detail=WRITES_DISABLED)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(expected, given.strip()):
        return
    if token_matches(expected, body_token):
        return
    raise HTTPException(
        status_code=401,
        detail="This write needs the service's token: send 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_token(request: Request) -> None:
    """FastAPI dependency: the request carries the configured bearer token."""
    check_token(web_state(request), request.headers.get("authorization"))
