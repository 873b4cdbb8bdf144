"""What people ask of runs from outside the scheduler: cancel one, or run it again from a stage."""

from __future__ import annotations

from ci_pipeline.errors import NotFound, UsageError
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.store.states import CancelSource, RunState, StageState, Status

CANCEL_REASONS = {
    CancelSource.CLI: "Cancelled from the command line.",
    CancelSource.API: "Cancelled through the API.",
}


def cancel_run(store: Store, run_id: int, source: CancelSource = CancelSource.CLI) -> bool:
    """Ask for ``run_id`` to be aborted, recording where the cancel came from; False when complete."""
    with store.session() as session:
        return q.request_cancel(session, run_id, CANCEL_REASONS[source], source)


def rerun_from(store: Store, run_id: int, stage: str) -> None:
    """Run ``run_id`` again from ``stage`` with the same inputs: that stage and later ones start anew."""
    with store.session() as session:
        run = q.get_run(session, run_id)
        rows = q.stages_of(session, run_id)
        names = [row.stage for row in rows]
        if stage not in names:
            raise NotFound(
                f"Run {run_id} has no stage '{stage}'; its stages are {', '.join(names) or 'none yet'}."
            )
        if run.state != RunState.COMPLETE:
            raise UsageError(f"Run {run_id} is still {run.state}; cancel it or wait before running it again.")
        start = names.index(stage)
        later_keys = {key for row in rows[start:] for key in row.outputs}
        fields = {key: value for key, value in run.fields.items() if key not in later_keys}
        for row in rows[:start]:
            if row.status == Status.SUCCESS:
                fields.update(row.outputs)
        for row in rows[start:]:
            row.state, row.status, row.reason, row.outputs = StageState.PENDING, None, "", {}
            row.queued_at = row.started_at = row.finished_at = None
            row.executor_handle = None
        run.fields = fields
        run.state, run.status, run.reason = RunState.RUNNING, Status.SUCCESS, ""
        run.finished_at = None
        run.owner = run.lease_until = run.cancel_reason = None
        run.cancel_source = None
