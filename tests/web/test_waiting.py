"""Why queued work waits: the scheduler's rules read back from stage rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ci_pipeline.store.models import Run, StageRun
from ci_pipeline.web.waiting import (
    Wait,
    waiting_for_images,
    waiting_for_workers,
    waiting_runs,
    waiting_stages,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def run(
    run_id: int, branch: str = "f26", options: dict[str, str] | None = None, owner: str | None = None
) -> Run:
    """A run row as the store hands it out (not stored)."""
    return Run(id=run_id, repo=f"pkg{run_id}", branch=branch, options=options or {}, owner=owner)


def stage(run_id: int, name: str, state: str) -> StageRun:
    """A stage row (not stored)."""
    return StageRun(run_id=run_id, stage=name, state=state, position=0)


def test_a_locked_stage_names_the_run_holding_the_lock_and_others_wait_for_a_slot() -> None:
    a, b, c, d = run(1), run(2), run(3, branch="f27"), run(4)
    active = [(stage(1, "compose", "running"), a), (stage(2, "compose", "queued"), b),
              (stage(3, "compose", "queued"), c), (stage(4, "build", "queued"), d)]
    found = {w.run.id: (w.wait, w.holder) for w in waiting_stages(active)}
    assert found == {2: (Wait.LOCK, 1), 3: (Wait.SLOT, None), 4: (Wait.SLOT, None)}


def test_unclaimed_and_claimed_runs_wait_for_a_scheduler() -> None:
    details = [w.detail for w in waiting_runs([run(1), run(2, owner="host:1:x")])]
    assert details == ["Waits for a scheduler to claim it.", "Claimed; its first stage starts next."]


def test_an_image_stage_ahead_waits_for_the_interval_unless_forced_or_due() -> None:
    runs = {1: run(1), 2: run(2, options={"force_image": "true"}), 3: run(3, "f27"), 4: run(4, "rawhide")}
    pending = [stage(n, "image", "pending") for n in runs]
    last = {"f26": NOW - timedelta(hours=1), "f27": NOW - timedelta(days=2), "rawhide": None}
    found = waiting_for_images(runs, pending, last, 86400, NOW)
    assert [(w.run.id, w.wait) for w in found] == [(1, Wait.IMAGE_INTERVAL)]
    assert "due at 2026-03-11 11:00 UTC" in found[0].detail
    assert waiting_for_images(runs, pending, last, 0, NOW) == []


def test_a_celery_task_no_worker_has_taken_waits_in_its_queue() -> None:
    taken, sent = stage(1, "build", "running"), stage(2, "image", "running")
    taken.attempt = sent.attempt = 1
    running = [(taken, run(1)), (sent, run(2))]
    workers = {(1, "build", 1): "celery@host-a", (2, "image", 1): None}
    found = waiting_for_workers(running, workers, {"ci-pipeline.image": 3})
    assert [(w.run.id, w.wait) for w in found] == [(2, Wait.WORKER_QUEUE)]
    assert found[0].detail == ("Sent to the worker queue ci-pipeline.image (3 tasks waiting there); "
                               "no worker has taken it yet.")
    assert waiting_for_workers(running, {}, {}) == []
