"""Forge webhook deliveries already handled: a delivery id is taken once, a replay is refused."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.models import WebhookDelivery, table_of


def take_delivery(session: Session, forge: str, delivery_id: str) -> bool:
    """Record ``delivery_id`` of ``forge`` in the session's transaction; False if it was taken before.

    Taken with the decision it leads to: a transaction that fails leaves the id free for a retry.
    """
    table = table_of(WebhookDelivery)
    values = {"forge": forge, "delivery_id": delivery_id, "received_at": utcnow()}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(table.c.forge)
    return session.execute(statement).first() is not None
