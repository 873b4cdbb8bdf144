"""Machine leases: which stage attempt holds which provisioned machine, and until when.

A lease is taken all or nothing for the machines of one request, renewed by its holder while it
works, and deleted when the holder gives the machines back. The unique (provisioner, machine) index
makes two holders of one machine impossible on either store. A lease whose holder died (a process
of this host that is gone) or whose ``until`` passed is *taken for reclaim*: it changes to the
reclaiming state under the reclaimer's name, so two schedulers never tear one machine down twice,
and is dropped once the machine is torn down.

Taking, renewing and giving back leases is the busy part: SQLAlchemy Core statements on a plain
connection (:meth:`Store.connection`), each standing alone where it can, so PostgreSQL commits it
without BEGIN and COMMIT round trips. Listing and reclaiming leases use sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ci_pipeline.store.clock import aware, utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import MachineLease, table_of
from ci_pipeline.store.runs import owner_is_dead_here
from ci_pipeline.store.states import LeaseState

#: How often :func:`acquire` chooses again when other holders took machines it chose.
ACQUIRE_TRIES = 3

_LEASES = table_of(MachineLease)
#: A lease row in, its id back, or nothing where the machine is held: per dialect. Core, not ORM:
#: compiled once and cached, the same statement for one row or several.
_INSERTS: dict[str, Insert] = {
    name: dialect.insert(_LEASES).on_conflict_do_nothing().returning(_LEASES.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_RENEW = (
    update(_LEASES)
    .where(_LEASES.c.holder == bindparam("of_holder"), _LEASES.c.state == LeaseState.HELD)
    .values(until=bindparam("new_until"))
)
_RELEASE = delete(_LEASES).where(
    _LEASES.c.holder == bindparam("holder"),
    _LEASES.c.provisioner == bindparam("provisioner"),
    _LEASES.c.machine.in_(bindparam("machines", expanding=True)),
)


def acquire(
    store: Store,
    provisioner: str,
    candidates: Sequence[str],
    count: int,
    *,
    run_id: int,
    stage: str,
    attempt: int,
    holder: str,
    until: datetime,
    details: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Lease ``count`` of ``candidates`` that nobody holds, in their order: all of them, or [] and none.

    One machine is taken by one statement or not at all, so it needs no transaction; several are
    taken in one, which undoes a partial take before anyone sees it.
    """
    with store.connection(each_statement=count == 1) as connection:
        return _take(
            connection,
            provisioner,
            candidates,
            count,
            {
                "provisioner": provisioner,
                "run_id": run_id,
                "stage": stage,
                "attempt": attempt,
                "holder": holder,
                "state": LeaseState.HELD,
                "acquired_at": utcnow(),
                "until": until,
            },
            details or {},
        )


def _take(
    connection: Connection,
    provisioner: str,
    candidates: Sequence[str],
    count: int,
    shared: Mapping[str, Any],
    details: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """The body of :func:`acquire`: ``shared`` holds the columns every machine's row shares."""
    insert = _INSERTS[connection.dialect.name]
    # The preferred machines are tried first, in one statement: usually they are free.
    free = list(candidates[:count])
    for _ in range(ACQUIRE_TRIES):
        if len(free) < count:
            return []
        rows = [
            {**shared, "machine": machine, "detail": dict(details.get(machine, {}))} for machine in free
        ]
        taken = list(connection.execute(insert, rows).scalars())
        if len(taken) == count:
            return free
        # Some are held: give back what this statement took, and choose among the free ones.
        if taken:
            connection.execute(delete(_LEASES).where(_LEASES.c.id.in_(taken)))
        held = set(
            connection.execute(
                select(_LEASES.c.machine).where(
                    _LEASES.c.provisioner == provisioner, _LEASES.c.machine.in_(candidates)
                )
            ).scalars()
        )
        free = [machine for machine in candidates if machine not in held][:count]
    return []


def holders(session: Session, provisioner: str, machines: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Who holds each of ``machines`` now: machine -> (run id, stage)."""
    query = select(MachineLease.machine, MachineLease.run_id, MachineLease.stage).where(
        MachineLease.provisioner == provisioner, MachineLease.machine.in_(machines)
    )
    return {machine: (run_id, stage) for machine, run_id, stage in session.execute(query)}


def renew(store: Store, holder: str, until: datetime) -> int:
    """Extend every lease ``holder`` holds to ``until``; return how many it still holds."""
    with store.connection(each_statement=True) as connection:
        return connection.execute(_RENEW, {"of_holder": holder, "new_until": until}).rowcount


def release(store: Store, holder: str, provisioner: str, machines: Sequence[str]) -> int:
    """Give back ``holder``'s leases of ``machines``; return how many it held."""
    values = {"holder": holder, "provisioner": provisioner, "machines": list(machines)}
    with store.connection(each_statement=True) as connection:
        return connection.execute(_RELEASE, values).rowcount


def current(session: Session) -> list[MachineLease]:
    """Every lease held now (or being reclaimed), by run, stage and machine."""
    query = select(MachineLease).order_by(MachineLease.run_id, MachineLease.stage, MachineLease.machine)
    return list(session.execute(query).scalars())


@dataclass(frozen=True)
class HeldMachine:
    """A machine a run holds, and until when: what the dashboard shows of a lease."""

    machine: str
    run_id: int | None
    stage: str
    provisioner: str
    until: datetime | None


def machine_leases(session: Session, limit: int = 200) -> list[HeldMachine]:
    """Every machine held now (being reclaimed too), up to ``limit``, by run, stage and machine."""
    query = (
        select(MachineLease.machine, MachineLease.run_id, MachineLease.stage, MachineLease.provisioner,
               MachineLease.until)
        .order_by(MachineLease.run_id, MachineLease.stage, MachineLease.machine)
        .limit(limit)
    )
    return [
        HeldMachine(machine=machine, run_id=run_id, stage=stage, provisioner=provisioner, until=aware(until))
        for machine, run_id, stage, provisioner, until in session.execute(query)
    ]


def take_for_reclaim(
    session: Session,
    reclaimer: str,
    now: datetime,
    until: datetime,
    *,
    run_id: int | None = None,
    stage: str | None = None,
) -> list[MachineLease]:
    """Take the leases to reclaim under ``reclaimer``'s name until ``until``; return them.

    With ``run_id`` and ``stage``: every lease of that run's stage (a scheduler that takes the run
    over will not resume the attempt holding them). Without: every lease whose holder died on this
    host or whose ``until`` is before ``now`` (a reclaim that died or failed is taken again so).
    """
    query = select(MachineLease)
    if run_id is not None:
        query = query.where(
            MachineLease.run_id == run_id, MachineLease.stage == stage, MachineLease.holder != reclaimer
        )
    else:
        owners = session.execute(select(MachineLease.holder).distinct()).scalars()
        dead = [owner for owner in owners if owner != reclaimer and owner_is_dead_here(owner)]
        query = query.where((MachineLease.until < now) | MachineLease.holder.in_(dead))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    leases = list(session.execute(query).scalars())
    for lease in leases:
        lease.holder, lease.state, lease.until = reclaimer, LeaseState.RECLAIMING, until
    session.flush()
    return leases


def drop(session: Session, lease_ids: Sequence[int]) -> None:
    """Delete the leases ``lease_ids`` (their machines are torn down)."""
    if lease_ids:
        session.execute(delete(MachineLease).where(MachineLease.id.in_(list(lease_ids))))
