"""The pipeline engine: one durable state machine per run, driven by a scheduler.

API that ``serve`` uses::

    engine = Engine(config, store, bus)     # core.Engine; executor and pipeline may be passed in
    engine.tick() -> bool                   # one round: leases, cancels, claims, stage ends, starts;
                                            # True when work was done or stages run (it waited on them)
    engine.idle() -> bool                   # no unfinished run anywhere (and nothing running here)
    engine.shutdown()                       # kill the stage work this process started

Semantics (kept in the store, every state change committed with the message it causes in the outbox,
which :mod:`.relay` publishes in order, at least once):

- A run goes through the stages of :mod:`.definition` in order; each stage that runs sends queued,
  running and complete. A FAILURE ends the run: later stages are skipped (recorded, no messages).
- A disabled stage is skipped and the pipeline goes on. An image stage that is not due (``interval``
  seconds since the branch's last image, unless the run's option ``force_image`` is set) is skipped
  together with smoke and e2e (they need a new image), and the run ends SUCCESS.
- Cancel (``runs cancel``) and supersede (a newer change of the same repo and branch while the older
  run has not finished its build) abort a run: the active stage's complete message has status
  ABORTED, and the reason is recorded.
- Every run ends with ``<prefix>.<env>.ci.pipeline.complete`` carrying its fields and final status.
- A scheduler holds a lease on the runs it drives (``owner``, ``lease_until``); claims use
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and ``BEGIN IMMEDIATE`` on SQLite, and every state change
  first renews the lease, so two schedulers never drive one run. After a crash a restarted scheduler
  takes the runs of its dead predecessor over at once (same host) or when their lease ends: a stage
  that was running starts again as its next attempt (no second running message).
- An infrastructure failure (InfrastructureError, or exit status 75 of a command stage) is retried
  up to the stage's ``retries`` as a new attempt of the same running stage.
- Whatever a stage reports (reason, outputs, test names and logs) is stored: the store's column
  types make any text storable (:mod:`ci_pipeline.store.safe_types`). When the store still refuses
  a stage's end, that stage is recorded FAILURE with the store's reason and the run ends; when the
  store cannot be reached, the end is kept and recorded once it can. The scheduler goes on either way.
"""

from ci_pipeline.engine.core import Engine

__all__ = ["Engine"]
