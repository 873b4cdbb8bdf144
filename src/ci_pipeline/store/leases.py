"""Provisioned machines and the runs that lease them, read from the ``leases`` table.

The table belongs to the provisioners; until a store has it, there are no leases to show. Its
columns are read by name (:data:`LEASE_COLUMNS`), so this reader needs no model of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.orm import Session

#: The column each field of a lease is read from, first name found wins.
LEASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "machine": ("machine", "host", "name"),
    "run_id": ("run_id",),
    "stage": ("stage",),
    "provisioner": ("provisioner", "kind"),
    "until": ("lease_until", "until", "expires_at"),
}


@dataclass(frozen=True)
class MachineLease:
    """A machine a run holds, and until when."""

    machine: str
    run_id: int | None
    stage: str
    provisioner: str
    until: datetime | None


def _field(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[name] for name in names if name in row), None)


def machine_leases(session: Session, limit: int = 200) -> list[MachineLease]:
    """Every lease held, up to ``limit``; none when the store has no ``leases`` table."""
    bind = session.connection()
    if not inspect(bind).has_table("leases"):
        return []
    table = Table("leases", MetaData(), autoload_with=bind)
    rows = session.execute(select(table).limit(limit)).mappings()
    leases = []
    for mapping in rows:
        row = dict(mapping)
        run_id = _field(row, LEASE_COLUMNS["run_id"])
        leases.append(
            MachineLease(
                machine=str(_field(row, LEASE_COLUMNS["machine"]) or ""),
                run_id=int(run_id) if run_id is not None else None,
                stage=str(_field(row, LEASE_COLUMNS["stage"]) or ""),
                provisioner=str(_field(row, LEASE_COLUMNS["provisioner"]) or ""),
                until=_field(row, LEASE_COLUMNS["until"]),
            )
        )
    return leases
