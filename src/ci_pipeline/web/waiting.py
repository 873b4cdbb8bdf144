"""Why each queued thing waits, worked out from the store's rows the way the scheduler decides:

- a run no scheduler has started waits for one (``scheduler``);
- a queued stage the scheduler keeps one of per branch (compose, image) waits while another run of
  the branch runs it (``lock``, naming that run);
- any other queued stage waits for a free slot of its scheduler's executor (``slot``);
- a run whose image stage is still ahead, while its branch's last image is younger than the image
  interval, will skip its image stages (``image-interval``, saying when the next one is due).
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
