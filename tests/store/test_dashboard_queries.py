"""The dashboard's store queries on SQLite and PostgreSQL: a package's history, trends per day,
what is active now, and machine leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ci_pipeline.store import activity, history
from ci_pipeline.store.db import Store
from ci_pipeline.store.decision_answers import replace_answer
from ci_pipeline.store.leases import acquire, machine_leases
from ci_pipeline.store.listing import newest_runs
from ci_pipeline.store.models import Decision
from ci_pipeline.store.states import Status
from ci_pipeline.store.trends import daily_stage_figures
from store.dashboard_rows import add_run_with_stages

DAY = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def test_a_packages_runs_last_good_and_bad_decisions_and_answers(store: Store) -> None:
    good = add_run_with_stages(store, "vim", DAY, [("build", "complete", "SUCCESS", 10)])
    bad = add_run_with_stages(store, "vim", DAY, [("build", "complete", "FAILURE", 5)], status="FAILURE")
    add_run_with_stages(store, "emacs", DAY, [("build", "complete", "SUCCESS", 5)])
    newest = add_run_with_stages(store, "vim", DAY, [("build", "running", None, 0)], state="running")
    with store.session() as session:
        session.add(Decision(repo="vim", rev="a" * 40, namespace="rpms", branch="f26", decision="ignore",
                             reason="not tracked", build_id=3))
        replace_answer(session, ("koji_build", "vim-1-3.fc26"), "bodhi_update_push_stable", "fedora-26",
                       {"policies_satisfied": False, "summary": "1 of 2 required tests failed"})
    with store.session() as session:
        assert [run.id for run in history.package_runs(session, "vim", 2)] == [newest, bad]
        found_good = history.last_run_with_status(session, "vim", Status.SUCCESS)
        found_bad = history.last_run_with_status(session, "vim", Status.FAILURE)
        assert (found_good and found_good.id, found_bad and found_bad.id) == (good, bad)
        assert history.last_run_with_status(session, "emacs", Status.FAILURE) is None
        assert [d.reason for d in history.package_decisions(session, "vim", 5)] == ["not tracked"]
        answers = history.subject_answers(session, "koji_build", "vim-1-3.fc26")
        assert [(a.decision_context, a.answer["policies_satisfied"]) for a in answers] == [
            ("bodhi_update_push_stable", False)
        ]


def test_trends_give_nearest_rank_percentiles_and_failures_per_stage_and_day(store: Store) -> None:
    for seconds in range(1, 11):  # build: 1..10 s on one day, one of them failed
        status = "FAILURE" if seconds == 3 else "SUCCESS"
        add_run_with_stages(store, "vim", DAY, [("build", "complete", status, seconds)])
    add_run_with_stages(store, "vim", DAY + timedelta(days=1), [("build", "complete", "SUCCESS", 42),
                                                               ("functional", "running", None, 0)])
    add_run_with_stages(store, "vim", DAY - timedelta(days=40), [("build", "complete", "SUCCESS", 99)])
    with store.session() as session:
        figures = daily_stage_figures(session, DAY - timedelta(days=1))
    assert [(f.stage, f.day, f.ended, f.failed) for f in figures] == [
        ("build", "2026-03-10", 10, 1), ("build", "2026-03-11", 1, 0)
    ]
    first, second = figures
    assert [round(p, 3) for p in first.percentiles] == [5.0, 9.0, 10.0]
    assert [round(p, 3) for p in second.percentiles] == [42.0, 42.0, 42.0]
    assert first.failure_rate == 0.1


def test_activity_lists_active_stages_unstarted_runs_and_each_branchs_last_image(store: Store) -> None:
    old_image = add_run_with_stages(store, "vim", DAY, [("image", "complete", "SUCCESS", 60)])
    add_run_with_stages(store, "vim", DAY + timedelta(hours=5), [("image", "complete", "FAILURE", 60)],
                        status="FAILURE")
    running = add_run_with_stages(
        store, "vim", DAY, [("build", "complete", "SUCCESS", 5), ("compose", "running", None, 0),
                            ("image", "pending", None, 0)], state="running")
    queued = add_run_with_stages(store, "emacs", DAY, [("compose", "queued", None, 0)], state="running")
    unstarted = add_run_with_stages(store, "vim", DAY, [], state="queued")
    with store.session() as session:
        active = activity.active_stages(session, 10)
        assert [(stage.stage, run.id) for stage, run in active] == [("compose", running), ("compose", queued)]
        assert [run.id for run in activity.unstarted_runs(session, 10)] == [unstarted]
        pending = activity.pending_stages(session, [running, queued])
        assert [(s.run_id, s.stage) for s in pending] == [(running, "image")]
        images = activity.last_images(session, ["f26", "f27"])
    assert images["f27"] is None
    last = images["f26"]
    assert last is not None and last.replace(tzinfo=UTC) == DAY + timedelta(seconds=61)
    assert old_image


def test_machine_leases_lists_the_machines_held_now(store: Store) -> None:
    with store.session() as session:
        assert machine_leases(session) == []
    run = add_run_with_stages(store, "vim", DAY, [])
    until = datetime.now(UTC) + timedelta(hours=1)
    acquire(store, "ssh", ["host-1"], 1, run_id=run, stage="e2e", attempt=1, holder="h", until=until)
    with store.session() as session:
        held = [(lease.machine, lease.run_id, lease.stage, lease.provisioner, lease.until)
                for lease in machine_leases(session)]
    assert held == [("host-1", run, "e2e", "ssh", until)]


def test_runs_page_by_key_both_ways(store: Store) -> None:
    ids = [add_run_with_stages(store, "vim", DAY, []) for _ in range(5)]
    with store.session() as session:
        assert [r.id for r in newest_runs(session, limit=2, before=ids[3])] == [ids[2], ids[1]]
        assert [r.id for r in newest_runs(session, limit=2, after=ids[1])] == [ids[3], ids[2]]
        assert [r.id for r in newest_runs(session, limit=9, after=ids[4])] == []
