"""Why each queued thing waits, worked out from the store's rows the way the scheduler decides:

- a run no scheduler has started waits for one (``scheduler``);
- a queued stage the scheduler keeps one of per branch (compose, image) waits while another run of
  the branch runs it (``lock``, naming that run);
- any other queued stage waits for a free slot of its scheduler's executor (``slot``);
- a run whose image stage is still ahead, while its branch's last image is younger than the image
  interval, will skip its image stages (``image-interval``, saying when the next one is due);
- with Celery, a stage sent to its queue that no worker has taken yet (``worker-queue``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ci_pipeline.engine.definition import BRANCH_LOCKED
from ci_pipeline.engine.transitions import image_due
from ci_pipeline.messages.topics import Stage
from ci_pipeline.run_options import forces_image
from ci_pipeline.store.rows import Run, StageRun
from ci_pipeline.store.states import StageState


class Wait(StrEnum):
    """Why something waits, as a key."""

    SCHEDULER = "scheduler"
    LOCK = "lock"
    SLOT = "slot"
    IMAGE_INTERVAL = "image-interval"
    WORKER_QUEUE = "worker-queue"


@dataclass(frozen=True)
class Waiting:
    """A run (and stage) that waits, why, and the run holding what it waits for."""

    run: Run
    stage: str
    wait: Wait
    detail: str
    holder: int | None = None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def waiting_stages(active: Sequence[tuple[StageRun, Run]]) -> list[Waiting]:
    """Why each queued stage of ``active`` (queued and running stages with their runs) waits."""
    holders = {
        (run.branch, stage.stage): run.id for stage, run in active if stage.state == StageState.RUNNING
    }
    running = sum(1 for stage, _run in active if stage.state == StageState.RUNNING)
    found = []
    for stage, run in active:
        if stage.state != StageState.QUEUED:
            continue
        holder = holders.get((run.branch, stage.stage))
        if stage.stage in {str(s) for s in BRANCH_LOCKED} and holder is not None and holder != run.id:
            detail = f"The {stage.stage} lock of {run.branch} is held by run {holder}."
            found.append(Waiting(run, stage.stage, Wait.LOCK, detail, holder))
        else:
            detail = f"No free slot: {running} stage{'s' if running != 1 else ''} running."
            found.append(Waiting(run, stage.stage, Wait.SLOT, detail))
    return found


def waiting_runs(unstarted: Sequence[Run]) -> list[Waiting]:
    """Runs no scheduler has started."""
    claimed, unclaimed = "Claimed; its first stage starts next.", "Waits for a scheduler to claim it."
    return [Waiting(run, "", Wait.SCHEDULER, claimed if run.owner else unclaimed) for run in unstarted]


def waiting_for_images(
    runs: Mapping[int, Run],
    pending_images: Sequence[StageRun],
    last_images: Mapping[str, datetime | None],
    interval: float,
    now: datetime,
) -> list[Waiting]:
    """Runs whose image stage is ahead while their branch's next image is not due yet."""
    found = []
    for stage in pending_images:
        run = runs.get(stage.run_id)
        last = last_images.get(run.branch) if run is not None else None
        if run is None or stage.stage != Stage.IMAGE or last is None or interval <= 0:
            continue
        if image_due(interval, last, _utc(now)) or forces_image(run.options):
            continue
        due = _utc(last) + timedelta(seconds=interval)
        detail = (f"Image interval: the next image of {run.branch} is due at "
                  f"{due.strftime('%Y-%m-%d %H:%M')} UTC; until then image, smoke and e2e are skipped.")
        found.append(Waiting(run, stage.stage, Wait.IMAGE_INTERVAL, detail))
    return found


def waiting_for_workers(
    running: Sequence[tuple[StageRun, Run]],
    workers: Mapping[tuple[int, str, int], str | None],
    depths: Mapping[str, int | None],
) -> list[Waiting]:
    """Running stages whose Celery task no worker has taken (``workers`` says who runs each task)."""
    from ci_pipeline.executors.celery_app import queue_name  # Celery is imported only where it is used

    found = []
    for stage, run in running:
        key = (run.id, stage.stage, stage.attempt)
        if key not in workers or workers[key] is not None:
            continue
        queue = queue_name(stage.stage)
        depth = depths.get(queue)
        waiting = "" if depth is None else f" ({depth} task{'s' if depth != 1 else ''} waiting there)"
        detail = f"Sent to the worker queue {queue}{waiting}; no worker has taken it yet."
        found.append(Waiting(run, stage.stage, Wait.WORKER_QUEUE, detail))
    return found
