"""Reclaiming machines whose holders died: no machine stays leased forever.

A stage attempt that is killed with -9 (or whose scheduler was) cannot give its machines back. Its
leases are reclaimed: the provisioner named on each tears the machine down from the lease's detail
(:meth:`~ci_pipeline.provision.base.Provisioner.reclaim`), then the lease is dropped. This happens

- when a scheduler takes over a run whose stage a dead scheduler left running (the engine's
  leftover recovery calls :meth:`LeaseReclaimer.attempt_left`);
- every :data:`SWEEP_SECONDS` in each scheduler, for leases whose holder was a process of this host
  that is gone, or whose ``until`` passed (a holder on another host that stopped renewing);
- by a stage that waits for machines such leases hold.

A reclaim that fails is logged and tried again when its own ``until`` passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from ci_pipeline.config import Config
from ci_pipeline.errors import CIPipelineError
from ci_pipeline.logcontext import get_logger
from ci_pipeline.provision.registry import open_provisioner
from ci_pipeline.store import leases
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import STORE_ERRORS, Store

log = get_logger(__name__)

#: How often a scheduler looks for leases of dead holders.
SWEEP_SECONDS = 5.0


def reclaim_leases(
    config: Config, store: Store, reclaimer: str, *, run_id: int | None = None, stage: str | None = None
) -> int:
    """Reclaim the stale leases (or every lease of ``run_id``'s ``stage``); return how many were dropped."""
    now = utcnow()
    retry_at = now + timedelta(seconds=config.provision.lease_seconds)
    with store.session() as session:
        taken = [
            (lease.id, lease.provisioner, lease.machine, dict(lease.detail), lease.run_id, lease.stage)
            for lease in leases.take_for_reclaim(
                session, reclaimer, now, retry_at, run_id=run_id, stage=stage
            )
        ]
    done: list[int] = []
    for lease_id, provisioner, machine, detail, lease_run, lease_stage in taken:
        try:
            open_provisioner(config, provisioner).reclaim(machine, detail)
        except (CIPipelineError, OSError) as exc:
            log.warning(
                "could not reclaim %s machine %s of run %d (%s): %s",
                provisioner,
                machine,
                lease_run,
                lease_stage,
                exc,
            )
            continue
        log.warning(
            "reclaimed %s machine %s, left by run %d (%s)", provisioner, machine, lease_run, lease_stage
        )
        done.append(lease_id)
    if done:
        with store.session() as session:
            leases.drop(session, done)
    return len(done)


class LeaseReclaimer:
    """A scheduler's reclaims, in a thread of their own so a slow teardown never holds up scheduling."""

    def __init__(
        self, config: Config, store: Store, owner: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._store = store
        self._owner = owner
        self._clock = clock
        self._left: list[tuple[int, str]] = []
        self._next_sweep = 0.0
        self._thread: threading.Thread | None = None

    def attempt_left(self, run_id: int, stage: str) -> None:
        """Reclaim, soon, the machines of ``run_id``'s ``stage``, whose attempt a dead scheduler left."""
        self._left.append((run_id, stage))

    def tick(self) -> None:
        """Start a round of reclaims when there is one to do and none is under way."""
        if self._thread is not None and self._thread.is_alive():
            return
        now = self._clock()
        if not self._left and now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        left, self._left = self._left, []
        self._thread = threading.Thread(target=self._round, args=(left,), name="lease-reclaim", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the round under way, if any, to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _round(self, left: list[tuple[int, str]]) -> None:
        try:
            for run_id, stage in left:
                reclaim_leases(self._config, self._store, self._owner, run_id=run_id, stage=stage)
            reclaim_leases(self._config, self._store, self._owner)
        except STORE_ERRORS as exc:
            self._left.extend(left)  # tried again at the next round
            log.warning("reclaiming machine leases waits for the store: %s", exc)
