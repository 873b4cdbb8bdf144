"""The scheduler: claims runs with a lease, drives each through its stages, records what executors report.

One :class:`Engine` per ``serve`` process. All of a run's state lives in the store; the engine keeps
only which runs it holds, which wait for a free slot, and (to spare a read per transaction) the rows
of the runs it holds as its last commit left them, so a restart (after ``kill -9`` too) picks every
run up where the store says it is: a stage that was running starts again as its next attempt.

A stage's end is one transaction: the lease renewal (which reads a cancel request), the stage's
completion with its tests, the next stage queued and started, and their messages in one INSERT.
When the store refuses it, the stage ends FAILURE with the store's reason instead; when the store
cannot be reached, the end is recorded later. Either way the scheduler goes on with other runs.
"""

from __future__ import annotations

import enum
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine import transitions as t
from ci_pipeline.engine.definition import (
    BRANCH_LOCKED,
    NEEDS_IMAGE,
    PipelineDefinition,
    StageSpec,
    pipeline_for,
)
from ci_pipeline.engine.stage_inputs import stage_inputs
from ci_pipeline.errors import StoreUnavailable
from ci_pipeline.executors.base import Executor
from ci_pipeline.executors.registry import open_executor
from ci_pipeline.logcontext import get_logger, log_context
from ci_pipeline.messages.topics import Stage, Status
from ci_pipeline.provision.recovery import LeaseReclaimer
from ci_pipeline.provision.settings import check_provisioners
from ci_pipeline.run_options import forces_image
from ci_pipeline.stage_contract import StageContext, StageOutcome
from ci_pipeline.store import decisions
from ci_pipeline.store import runs as q
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import STORE_ERRORS, Store, Transaction, store_error_reason
from ci_pipeline.store.rows import Run, StageRun
from ci_pipeline.store.safe_types import storable_json
from ci_pipeline.store.states import RunState, StageState

log = get_logger(__name__)

LEASE_SECONDS = 30.0
MAINTENANCE_INTERVAL = 0.25
CLAIM_INTERVAL = 0.1
POLL_SECONDS = 0.05
#: How long a stage end the store could not take waits before it is recorded again.
RECORD_RETRY_SECONDS = 1.0


class _Next(enum.Enum):
    DONE = "done"
    RUNNING = "running"
    WAIT_SLOT = "wait-slot"
    WAIT_LOCK = "wait-lock"
    LOST = "lost"


_WAITING = (_Next.WAIT_SLOT, _Next.WAIT_LOCK)


class Engine:
    """Drives the runs of the store through the pipeline; call :meth:`tick` in a loop."""

    def __init__(self, config: Config, store: Store, bus: Bus, *, executor: Executor | None = None,
                 pipeline: PipelineDefinition | None = None, lease_seconds: float = LEASE_SECONDS,
                 max_active: int | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        #: What the scheduler's own waits (claims, maintenance, store retries) read and sleep with.
        self.clock = clock
        self.sleep = sleep
        self.store = store
        self.bus = bus
        self.pipeline = pipeline or pipeline_for(config)
        # A provisioner that cannot work here is one clear error now, not a failed stage later.
        built_in = [str(spec.name) for spec in self.pipeline.stages if spec.enabled and spec.command is None]
        check_provisioners(config, built_in)
        self.executor = executor or open_executor(config)
        self.owner = q.owner_name()
        self.lease = timedelta(seconds=lease_seconds)
        self.max_active = max_active or max(8, 4 * self.executor.free_slots())
        self._held: set[int] = set()
        self._waiting: list[int] = []
        self._next_maintenance = 0.0
        self._next_claim = 0.0
        #: (seconds, of which spawning the stage's process, transitions) of each state-changing
        #: transaction, when kept (benchmarks set a list).
        #: The run and stage rows of each held run, as the last committed transaction left them.
        self._cache: dict[int, tuple[Run, list[StageRun]]] = {}
        #: The msg_id of the push behind each held run, for its log lines.
        self._msg_ids: dict[int, str] = {}
        self._removals: list[Path] = []
        #: Stage ends the store could not take yet, and when to try them again.
        self._unrecorded: list[StageOutcome] = []
        self._next_record_retry = 0.0
        #: Gives back the machines of stage attempts whose holders died (in a thread of its own).
        self.reclaimer = LeaseReclaimer(config, store, self.owner, clock=clock)
        # Worked out once: resolving the state directory costs system calls on every stage start.
        self._state_path = config.state_path
        self._artifacts_url = config.artifacts_base_url

    # -- the loop ------------------------------------------------------------------------------

    def tick(self, wait: float = POLL_SECONDS) -> bool:
        """Do one round of work; when there was none, wait up to ``wait`` s for a stage to end.

        True when work was done or stages are running: tick itself waits for their ends (pidfd
        wakeups), so a caller must not sleep on top of that and see an end late.
        """
        worked = self._maintain()
        worked = self._claim() or worked
        worked = self._record(self.executor.wait(0)) or worked
        worked = self._drive_waiting() or worked
        if not worked and self.executor.running() and wait > 0:
            self._record(self.executor.wait(wait))
        elif not worked and self._unrecorded and wait > 0:
            self.sleep(min(wait, max(0.0, self._next_record_retry - self.clock())))
        return worked or bool(self.executor.running())

    def idle(self) -> bool:
        """Whether no run is unfinished, here or in any other scheduler."""
        if self._held or self.executor.running():
            return False
        with self.store.session() as session:
            return not q.any_unfinished(session)

    def shutdown(self) -> None:
        """Kill the stage work this process started; its runs are taken up again after a restart."""
        self.executor.shutdown()
        self.reclaimer.wait()

    # -- leases, cancels, claims ---------------------------------------------------------------

    def _maintain(self) -> bool:
        now = self.clock()
        if now < self._next_maintenance:
            return False
        self._next_maintenance = now + MAINTENANCE_INTERVAL
        self.reclaimer.tick()
        with self.store.session() as session:
            q.release_dead_owners(session, self.owner)
            still_held = q.renew_leases(session, self.owner, utcnow() + self.lease)
            cancelled = q.cancel_requested(session, self.owner)
        for run_id in self._held - still_held:
            self._lose(run_id)
        for run_id in cancelled:
            self._drive(run_id)
        return bool(cancelled)

    def _claim(self) -> bool:
        room = self.max_active - len(self._held)
        now = self.clock()
        if room <= 0 or now < self._next_claim:
            return False
        with self.store.session() as session:
            claimed = q.claim_runs(session, self.owner, utcnow(), utcnow() + self.lease, room)
            if self.config.pipeline.supersede:
                self._supersede(session, claimed)
        self._next_claim = 0.0 if len(claimed) == room else now + CLAIM_INTERVAL
        for run_id in claimed:
            self._held.add(run_id)
            self._drive(run_id)
        return bool(claimed)

    def _supersede(self, session: Transaction, claimed: list[int]) -> None:
        for run_id in claimed:
            run = q.find_run(session, run_id)
            if run is None or run.state != RunState.QUEUED:
                continue
            for older in q.older_unbuilt_runs(session, run):
                older.cancel_reason = (
                    f"Superseded by run {run.id} (rev {run.rev[:7]}) of {run.repo} on {run.branch}."
                )
                log.info("run %d superseded by run %d", older.id, run.id)

    def _lose(self, run_id: int) -> None:
        log.warning("run %d is held by another scheduler now; stopping its work here", run_id)
        self._held.discard(run_id)
        self._cache.pop(run_id, None)
        for key in [key for key in self.executor.running() if key[0] == run_id]:
            self.executor.kill(key)

    # -- driving runs --------------------------------------------------------------------------

    def _drive_waiting(self) -> bool:
        if not self._waiting or self.executor.free_slots() <= 0:
            return False
        # Drive only as many waiting runs as there are free slots: the others would find none.
        waiting, self._waiting = self._waiting, []
        progressed = False
        for index, run_id in enumerate(waiting):
            if self.executor.free_slots() <= 0:
                self._waiting.extend(run_id for run_id in waiting[index:] if run_id not in self._waiting)
                break
            progressed = self._drive(run_id) not in _WAITING or progressed
        # Runs that still wait for a branch lock are no work done: tick may then wait for stage ends.
        return progressed

    def _drive(self, run_id: int, outcome: StageOutcome | None = None) -> _Next:
        with log_context(run_id=run_id, stage=outcome.stage if outcome else None):
            return self._drive_run(run_id, outcome)

    def _drive_run(self, run_id: int, outcome: StageOutcome | None) -> _Next:
        try:
            # No autoflush: every change goes out in one flush at the commit (one INSERT for all
            # its messages); the queries in between look only at other runs.
            with self.store.session() as session, session.no_autoflush:
                nxt = self._drive_in(session, run_id, outcome)
        except BaseException:
            self._cache.pop(run_id, None)  # its objects hold changes that were rolled back
            raise
        finally:
            removals, self._removals = self._removals, []
        for path in removals:
            shutil.rmtree(path, ignore_errors=True)  # after the commit: no lock held for disk work
        if nxt in (_Next.DONE, _Next.LOST):
            self._held.discard(run_id)
            self._cache.pop(run_id, None)
            self._msg_ids.pop(run_id, None)
            for key in [key for key in self.executor.running() if key[0] == run_id]:
                self.executor.kill(key)
        elif nxt in _WAITING and run_id not in self._waiting:
            self._waiting.append(run_id)
        return nxt

    def _drive_in(self, session: Transaction, run_id: int, outcome: StageOutcome | None) -> _Next:
        held = q.hold_lease_reading_cancel(session, run_id, self.owner, utcnow() + self.lease)
        if held is None:
            return _Next.LOST
        run, rows = self._load(session, run_id, held[0])
        with log_context(msg_id=self._msg_ids.get(run_id) or None):
            return self._drive_loaded(session, run, rows, outcome)

    def _drive_loaded(
        self, session: Transaction, run: Run, rows: list[StageRun], outcome: StageOutcome | None
    ) -> _Next:
        run_id = run.id
        if run.state == RunState.COMPLETE:
            return _Next.DONE
        if not rows:
            rows = t.initialize_stages(session, run, self.pipeline)
        self._cache[run_id] = (run, rows)
        if run.cancel_reason:
            for row in rows:
                if row.state == StageState.RUNNING and (run.id, row.stage) not in self.executor.running():
                    self._stop_leftover(run, row)
            t.abort_run(session, self.config, run, rows, run.cancel_reason)
            return _Next.DONE
        if outcome is not None and not self._apply(session, run, rows, outcome):
            return _Next.DONE
        return self._advance(session, run, rows)

    def _load(
        self, session: Transaction, run_id: int, cancel_reason: str | None
    ) -> tuple[Run, list[StageRun]]:
        """The run and its stage rows: kept from the last transaction while the lease was held.

        Nobody else changes a run whose lease this scheduler holds, except to ask for its cancel,
        which the lease renewal has just read.
        """
        cached = self._cache.get(run_id)
        if cached is None:
            run = q.find_run(session, run_id, fresh=True)
            assert run is not None
            self._msg_ids[run_id] = decisions.msg_id_of_run(session, run_id)
            return run, q.stages_of(session, run_id)
        run, rows = cached
        q.reattach(session, run, rows, cancel_reason)
        return run, rows

    def _apply(self, session: Transaction, run: Run, rows: list[StageRun], outcome: StageOutcome) -> bool:
        """Record an attempt's end; False when it ended the run."""
        row = next((r for r in rows if r.stage == outcome.stage), None)
        if row is None or row.state != StageState.RUNNING or row.attempt != outcome.attempt:
            return True  # a stale report: the stage moved on without it
        spec = self._spec(row.stage)
        # Outputs become message fields and later stages' environment: their stored form throughout.
        outcome = replace(outcome, outputs=storable_json(dict(outcome.outputs)))
        problem = t.outputs_violation(self.config, run, outcome.outputs) if outcome.outputs else None
        if problem is not None:
            reason = f"The stage's outputs break the message contract: {problem}"
            outcome = replace(outcome, status=Status.FAILURE, reason=reason, outputs={}, infrastructure=False)
        if outcome.status == Status.SUCCESS:
            t.complete_stage(session, self.config, run, row, Status.SUCCESS, outcome.reason, outcome.outputs,
                             outcome.tests)
            t.record_results(session, self.config, run, row, outcome.tests)
            self._removals.append(self._workdir(run.id, row))
            return True
        # An attempt that failed may have died holding machines: give back whatever it still holds.
        self.reclaimer.attempt_left(run.id, row.stage)
        if outcome.infrastructure and row.attempt <= spec.retries:
            row.reason = f"Attempt {row.attempt} failed and is retried: {outcome.reason}"
            return True  # still running: _advance starts the next attempt
        t.complete_stage(session, self.config, run, row, Status.FAILURE, outcome.reason, {}, outcome.tests,
                         outcome.infrastructure)
        t.record_results(session, self.config, run, row, outcome.tests)
        t.skip_rest(rows, f"The {row.stage} stage failed.")
        reason = f"The {row.stage} stage failed: {outcome.reason}"
        t.finish_run(session, self.config, run, Status.FAILURE, reason)
        return False

    def _advance(self, session: Transaction, run: Run, rows: list[StageRun]) -> _Next:
        for row in rows:
            if row.state in t.FINAL_STAGE_STATES:
                continue
            with log_context(stage=row.stage):
                if row.state == StageState.PENDING and self._skip_or_queue(session, run, rows, row):
                    continue
                return self._start(session, run, row)
        t.finish_run(session, self.config, run, Status.SUCCESS)
        return _Next.DONE

    def _skip_or_queue(self, session: Transaction, run: Run, rows: list[StageRun], row: StageRun) -> bool:
        """Skip or queue a pending stage; True when it was skipped."""
        spec = self._spec(row.stage)
        if not spec.enabled:
            t.skip_stage(row, f"The {row.stage} stage is disabled in the pipeline file.")
            return True
        if row.stage == Stage.IMAGE and not self._image_due(session, run, spec):
            reason = (f"No image is due for {run.branch}: one was made less than {spec.interval:g} s ago; "
                      "the stages that need a new image are skipped.")
            for later in rows[rows.index(row):]:
                if later.stage in NEEDS_IMAGE and later.state == StageState.PENDING:
                    t.skip_stage(later, reason)
            return True
        t.queue_stage(session, self.config, run, row)
        return False

    def _image_due(self, session: Transaction, run: Run, spec: StageSpec) -> bool:
        if spec.interval <= 0 or forces_image(run.options):
            return True
        return t.image_due(spec.interval, q.last_image_finished(session, run.branch), utcnow())

    def _start(self, session: Transaction, run: Run, row: StageRun) -> _Next:
        key = (run.id, row.stage)
        if key in self.executor.running():
            return _Next.RUNNING
        if self.executor.free_slots() <= 0:
            return _Next.WAIT_SLOT
        if Stage(row.stage) in BRANCH_LOCKED and q.branch_stage_busy(session, run.branch, row.stage, run.id):
            return _Next.WAIT_LOCK
        if row.state == StageState.RUNNING and row.executor_handle:
            self._stop_leftover(run, row)
        attempt = row.attempt + 1
        log_path = self._state_path / "logs" / str(run.id) / f"{row.stage}.{attempt}.log"
        t.start_stage(session, self.config, run, row, str(log_path))
        log.debug("starting attempt %d", attempt)
        job = self._job(run, row, log_path)
        if inputs := stage_inputs(session, run, row.stage):
            job = replace(job, fields={**job.fields, **inputs})
        row.executor_handle = self.executor.start(job) or None
        return _Next.RUNNING

    def _stop_leftover(self, run: Run, row: StageRun) -> None:
        """Have the executor stop the attempt of ``row`` that a dead scheduler left running."""
        if self.executor.stop_leftover(run.id, row.stage, row.attempt, row.executor_handle or ""):
            log.warning("run %d %s: stopped attempt %d, left running by a dead scheduler",
                        run.id, row.stage, row.attempt)
        # Its machines too: the attempt will not be resumed, so nobody gives them back otherwise.
        self.reclaimer.attempt_left(run.id, row.stage)

    def _job(self, run: Run, row: StageRun, log_path: Path) -> StageContext:
        spec = self._spec(row.stage)
        artifacts = self.config.artifact_root / "runs" / str(run.id) / row.stage
        return StageContext(
            run_id=run.id,
            stage=row.stage,
            attempt=row.attempt,
            fields={str(k): str(v) for k, v in run.fields.items()},
            options={str(k): str(v) for k, v in run.options.items()},
            command=spec.command,
            implementation=spec.implementation,
            timeout=spec.timeout,
            workdir=self._workdir(run.id, row),
            artifacts_dir=artifacts,
            artifacts_url=f"{self._artifacts_url}/runs/{run.id}/{row.stage}/",
            log_path=log_path,
            config=self.config,
        )

    def _workdir(self, run_id: int, row: StageRun) -> Path:
        return self._state_path / "work" / str(run_id) / f"{row.stage}.{row.attempt}"

    def _spec(self, stage: str) -> StageSpec:
        try:
            return self.pipeline.spec(stage)
        except KeyError:
            return StageSpec(name=Stage(stage))

    def _record(self, outcomes: list[StageOutcome]) -> bool:
        pending = outcomes
        if self._unrecorded and self.clock() >= self._next_record_retry:
            pending, self._unrecorded = [*self._unrecorded, *outcomes], []
        for outcome in pending:
            if outcome.run_id not in self._held:
                continue
            with log_context(run_id=outcome.run_id, stage=outcome.stage):
                kept = self._record_outcome(outcome)
            if kept is not None:
                self._unrecorded.append(kept)
                self._next_record_retry = self.clock() + RECORD_RETRY_SECONDS
        return bool(outcomes)

    def _record_outcome(self, outcome: StageOutcome) -> StageOutcome | None:
        """Record an attempt's end; return what is left to record later, if anything.

        When the store refuses the values (too long, NUL, a constraint), the stage is recorded as
        FAILURE with the store's reason instead, so the run goes on to its end. When the store
        cannot be used now, the outcome is kept and recorded at a later tick.
        """
        try:
            self._drive(outcome.run_id, outcome)
            return None
        except StoreUnavailable as exc:
            log.warning("run %d: the %s stage's end waits for the store: %s",
                        outcome.run_id, outcome.stage, exc)
            return outcome
        except STORE_ERRORS as exc:
            reason = f"The store refused the {outcome.stage} stage's end: {store_error_reason(exc)}."
            log.error("run %d: %s", outcome.run_id, reason)
        failed = replace(outcome, status=Status.FAILURE, reason=reason, outputs={}, tests=(),
                         infrastructure=False)
        try:
            self._drive(outcome.run_id, failed)
            return None
        except STORE_ERRORS as exc:
            log.error("run %d: recording the %s stage as failed waits for the store: %s",
                      outcome.run_id, outcome.stage, store_error_reason(exc))
            return failed
