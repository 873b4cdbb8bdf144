"""The last gating answer announced per (subject, decision context, product version).

A decision is announced on the bus only when it differs from the one announced before: this is
that memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.models import DecisionAnswer


def answer_key(subject_type: str, identifier: str, decision_context: str, product_version: str) -> str:
    """The digest that identifies one (subject, decision context, product version)."""
    joined = "\x1f".join((subject_type, identifier, decision_context, product_version))
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def replace_answer(
    session: Session,
    subject: tuple[str, str],
    decision_context: str,
    product_version: str,
    answer: Mapping[str, Any],
) -> tuple[bool, dict[str, Any] | None]:
    """Keep ``answer`` as the last one of its key; return whether it differs and the one before."""
    subject_type, identifier = subject
    key = answer_key(subject_type, identifier, decision_context, product_version)
    # The row is made first (an empty answer: none announced yet) and then locked, so that writers
    # deciding at once on PostgreSQL take turns and announce a change once.
    insert_fn = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert_fn(DecisionAnswer)
        .values(
            key=key,
            subject_type=subject_type,
            subject_identifier=identifier,
            decision_context=decision_context,
            product_version=product_version,
            answer={},
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    row = session.get(DecisionAnswer, key, with_for_update=True, populate_existing=True)
    assert row is not None
    previous = dict(row.answer) or None
    if previous == dict(answer):
        return False, previous
    row.answer, row.updated_at = dict(answer), utcnow()
    session.flush()
    return True, previous
