"""The last gating answer announced per (subject, decision context, product version).

A decision is announced on the bus only when it differs from the one announced before: this is
that memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

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
    # Locked on PostgreSQL, so two writers deciding at once announce a change once.
    row = session.get(DecisionAnswer, key, with_for_update=True)
    previous = None if row is None else dict(row.answer)
    if previous == dict(answer):
        return False, previous
    if row is None:
        row = DecisionAnswer(
            key=key,
            subject_type=subject_type,
            subject_identifier=identifier,
            decision_context=decision_context,
            product_version=product_version,
        )
        session.add(row)
    row.answer, row.updated_at = dict(answer), utcnow()
    session.flush()
    return True, previous
