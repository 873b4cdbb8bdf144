"""Forge webhook deliveries already handled: a delivery id is taken once, a replay is refused."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.models import WebhookDelivery, table_of

#: One webhook delivery: (forge, delivery id).
DeliveryKey = tuple[str, str]


def take_deliveries(session: Session, keys: Sequence[DeliveryKey]) -> list[bool]:
    """Record the deliveries in the session's transaction, in one statement; for each, whether it was
    free (False: taken before, or earlier in ``keys``).

    Taken with the decisions they lead to: a transaction that fails leaves the ids free for a retry.
    """
    unique = list(dict.fromkeys(keys))
    if not unique:
        return []
    table = table_of(WebhookDelivery)
    now = utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [{"forge": forge, "delivery_id": delivery, "received_at": now} for forge, delivery in unique]
    # Many parameter sets, not one VALUES list: the statement is compiled once and cached, and
    # SQLAlchemy still sends a batch as one multi-row INSERT.
    statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.forge, table.c.delivery_id)
    free = {(row.forge, row.delivery_id) for row in session.execute(statement, rows)}
    taken: list[bool] = []
    for key in keys:
        taken.append(key in free)
        free.discard(key)
    return taken


def take_delivery(session: Session, forge: str, delivery_id: str) -> bool:
    """Record one delivery (see :func:`take_deliveries`); False if it was taken before."""
    return take_deliveries(session, [(forge, delivery_id)])[0]
