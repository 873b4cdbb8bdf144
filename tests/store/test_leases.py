"""Machine leases: all or none, one holder per machine, renewal, release, and reclaim of dead holders."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from ci_pipeline.store import leases
from ci_pipeline.store.clock import aware, utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.states import LeaseState
from engine.helpers import add_run

LAB = ["lab1", "lab2", "lab3"]


def _dead_holder() -> str:
    """The owner name of a process of this host that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "from ci_pipeline.store.runs import owner_name; print(owner_name())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _acquire(
    store: Store, run_id: int, count: int, holder: str, *, seconds: float = 60, attempt: int = 1
) -> list[str]:
    return leases.acquire(
        store,
        "ssh",
        LAB,
        count,
        run_id=run_id,
        stage="e2e",
        attempt=attempt,
        holder=holder,
        until=utcnow() + timedelta(seconds=seconds),
    )


def test_two_runs_never_hold_one_machine(store: Store) -> None:
    first, second = add_run(store), add_run(store)
    assert _acquire(store, first, 2, "a") == ["lab1", "lab2"]
    assert _acquire(store, second, 2, "b") == []  # one machine is free: none is taken
    with store.session() as session:
        assert leases.holders(session, "ssh", LAB) == {"lab1": (first, "e2e"), "lab2": (first, "e2e")}
    assert _acquire(store, second, 1, "b") == ["lab3"]
    assert leases.release(store, "b", "ssh", ["lab1"]) == 0  # not b's to give back
    assert leases.release(store, "a", "ssh", ["lab1", "lab2"]) == 2
    assert _acquire(store, second, 2, "b") == ["lab1", "lab2"]
    with store.session() as session:
        assert [(lease.machine, lease.run_id) for lease in leases.current(session)] == [
            ("lab1", second),
            ("lab2", second),
            ("lab3", second),
        ]


def test_a_partial_take_is_undone_and_other_free_machines_are_chosen(store: Store) -> None:
    first, second = add_run(store), add_run(store)
    taken = leases.acquire(
        store,
        "ssh",
        ["lab2"],
        1,
        run_id=first,
        stage="e2e",
        attempt=1,
        holder="a",
        until=utcnow() + timedelta(seconds=60),
    )
    assert taken == ["lab2"]
    # lab1 and lab2 are tried first; lab2 is held, so lab1 is given back and lab1, lab3 taken.
    assert _acquire(store, second, 2, "b") == ["lab1", "lab3"]
    assert leases.release(store, "b", "ssh", ["lab3"]) == 1
    assert _acquire(store, second, 3, "c") == []  # lab3 alone is free: none is taken
    with store.session() as session:
        assert sorted((lease.machine, lease.holder) for lease in leases.current(session)) == [
            ("lab1", "b"),
            ("lab2", "a"),
        ]


def test_other_provisioners_have_machines_of_their_own(store: Store) -> None:
    run = add_run(store)
    assert _acquire(store, run, 3, "a") == LAB
    taken = leases.acquire(
        store,
        "linchpin",
        LAB,
        3,
        run_id=run,
        stage="e2e",
        attempt=1,
        holder="a",
        until=utcnow() + timedelta(seconds=60),
    )
    assert taken == LAB


def test_a_holder_renews_its_own_leases_only(store: Store) -> None:
    run = add_run(store)
    _acquire(store, run, 1, "a", seconds=1)
    _acquire(store, run, 1, "b", seconds=1)
    later = utcnow() + timedelta(hours=1)
    assert leases.renew(store, "a", later) == 1
    with store.session() as session:
        until = {lease.holder: aware(lease.until) for lease in leases.current(session)}
    assert until["a"] == later
    assert until["b"] < later


def test_expired_and_dead_holders_leases_are_taken_for_reclaim_once(store: Store) -> None:
    run = add_run(store)
    dead = _dead_holder()
    _acquire(store, run, 1, "alive-elsewhere", seconds=-1)  # expired: it stopped renewing
    _acquire(store, run, 1, dead, seconds=3600)  # its process is gone
    _acquire(store, run, 1, "alive-elsewhere-2", seconds=3600)
    now = utcnow()
    with store.session() as session:
        taken = leases.take_for_reclaim(session, "scheduler", now, now + timedelta(seconds=60))
        assert sorted(lease.machine for lease in taken) == ["lab1", "lab2"]
        assert {lease.state for lease in taken} == {LeaseState.RECLAIMING}
    with store.session() as session:
        assert leases.take_for_reclaim(session, "other", now, now + timedelta(seconds=60)) == []
    # The reclaiming leases still keep their machines from new holders.
    assert _acquire(store, run, 1, "c", attempt=2) == []
    with store.session() as session:
        leases.drop(session, [lease.id for lease in taken])
        assert [lease.machine for lease in leases.current(session)] == ["lab3"]


def test_a_scheduler_takes_every_lease_of_a_stage_it_takes_over(store: Store) -> None:
    run, other = add_run(store), add_run(store)
    _acquire(store, run, 2, "stage-process")
    _acquire(store, other, 1, "stage-process-2")
    now = utcnow()
    with store.session() as session:
        taken = leases.take_for_reclaim(session, "scheduler", now, now, run_id=run, stage="e2e")
    assert sorted(lease.machine for lease in taken) == ["lab1", "lab2"]


def test_details_are_kept_for_reclaim(store: Store) -> None:
    run = add_run(store)
    leases.acquire(
        store,
        "linchpin",
        ["m1"],
        1,
        run_id=run,
        stage="smoke",
        attempt=1,
        holder="a",
        until=utcnow(),
        details={"m1": {"workspace": "/w/run1"}},
    )
    with store.session() as session:
        assert leases.current(session)[0].detail == {"workspace": "/w/run1"}
