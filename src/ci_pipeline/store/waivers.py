"""WaiverDB-compatible waivers: stored, listed and filtered WaiverDB's way, and handed to gating.

A later waiver of the same subject, test case and scenario replaces an earlier one, so a waiver
with ``waived`` false revokes the one before it. Waivers reach the decision engine as plain dicts
in WaiverDB's JSON form (:func:`waiver_json`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ci_pipeline.store.models import Waiver
from ci_pipeline.store.safe_types import stored_form

#: The columns a waiver is created from.
WAIVER_FIELDS = (
    "subject_type", "subject_identifier", "testcase", "scenario", "product_version",
    "waived", "username", "proxied_by", "comment", "timestamp",
)

#: The columns a listing filters on by equality.
FILTERED_COLUMNS = (
    "subject_type", "subject_identifier", "testcase", "product_version", "username", "proxied_by",
)


@dataclass(frozen=True)
class WaiverFilter:
    """The filters of a waivers listing; None means any."""

    subject_type: str | None = None
    subject_identifier: str | None = None
    testcase: str | None = None
    product_version: str | None = None
    username: str | None = None
    proxied_by: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_obsolete: bool = False


def _iso(value: datetime) -> str:
    # WaiverDB prints UTC times without a zone suffix.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def subject_dict(subject_type: str, identifier: str) -> dict[str, str]:
    """WaiverDB's older ``subject`` form of a subject, as its responses still carry it."""
    if subject_type == "compose":
        return {"productmd.compose.id": identifier}
    return {"type": subject_type, "item": identifier}


def waiver_json(row: Waiver) -> dict[str, Any]:
    """A waiver in WaiverDB's JSON form."""
    return {
        "id": row.id,
        "subject_type": row.subject_type,
        "subject_identifier": row.subject_identifier,
        "subject": subject_dict(row.subject_type, row.subject_identifier),
        "testcase": row.testcase,
        "scenario": row.scenario,
        "product_version": row.product_version,
        "waived": row.waived,
        "comment": row.comment,
        "username": row.username,
        "proxied_by": row.proxied_by,
        "timestamp": _iso(row.timestamp),
    }


def add_waiver(session: Session, fields: Mapping[str, Any]) -> Waiver:
    """Store one waiver (the :data:`WAIVER_FIELDS` of ``fields``; ``timestamp`` defaults to now) and
    return it with its id."""
    row = Waiver(**{name: fields.get(name) for name in WAIVER_FIELDS if name in fields})
    session.add(row)
    session.flush()
    return row


def get_waiver(session: Session, waiver_id: int) -> Waiver | None:
    """The waiver ``waiver_id``, if there is one."""
    return session.get(Waiver, waiver_id)


def _newest_per_subject_testcase() -> Any:
    return select(func.max(Waiver.id)).group_by(
        Waiver.subject_type, Waiver.subject_identifier, Waiver.testcase, Waiver.scenario,
        Waiver.product_version,
    )


def _conditions(found: WaiverFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    for name in FILTERED_COLUMNS:
        value = getattr(found, name)
        if value is not None:
            where.append(getattr(Waiver, name) == stored_form(getattr(Waiver, name), value))
    if found.since is not None:
        where.append(Waiver.timestamp >= found.since)
    if found.until is not None:
        where.append(Waiver.timestamp <= found.until)
    if not found.include_obsolete:
        # WaiverDB hides a waiver that a later one of the same subject and test case replaced.
        where.append(Waiver.id.in_(_newest_per_subject_testcase()))
    return where


def waiver_page(session: Session, found: WaiverFilter, offset: int, limit: int) -> tuple[list[Waiver], int]:
    """The waivers matching ``found``, newest first, from ``offset``; and how many match in all."""
    where = _conditions(found)
    total = int(session.execute(select(func.count(Waiver.id)).where(*where)).scalar_one())
    query = select(Waiver).where(*where).order_by(Waiver.timestamp.desc(), Waiver.id.desc())
    return list(session.execute(query.offset(offset).limit(limit)).scalars()), total


def subject_waivers(session: Session, subject_type: str, identifier: str, limit: int = 100) -> list[Waiver]:
    """Every waiver of one subject, revoked and replaced ones too, newest first."""
    found = WaiverFilter(subject_type=subject_type, subject_identifier=identifier, include_obsolete=True)
    return waiver_page(session, found, 0, limit)[0]


def waivers_for(
    session: Session,
    subjects: Sequence[tuple[str, str]],
    product_version: str | None,
    when: datetime | None,
) -> list[dict[str, Any]]:
    """The newest waiver per (subject, test case, scenario) of these subjects at ``when``, in
    WaiverDB's JSON form; only those of ``product_version`` when one is given."""
    if not subjects:
        return []
    wanted = [
        and_(
            Waiver.subject_type == stored_form(Waiver.subject_type, kind),
            Waiver.subject_identifier == stored_form(Waiver.subject_identifier, identifier),
        )
        for kind, identifier in subjects
    ]
    query = select(Waiver).where(or_(*wanted)).order_by(Waiver.id.desc())
    if product_version is not None:
        query = query.where(Waiver.product_version == stored_form(Waiver.product_version, product_version))
    if when is not None:
        query = query.where(Waiver.timestamp <= when)
    newest: dict[tuple[str, str, str, str | None], Waiver] = {}
    for row in session.execute(query).scalars():
        newest.setdefault((row.subject_type, row.subject_identifier, row.testcase, row.scenario), row)
    return [waiver_json(row) for row in sorted(newest.values(), key=lambda row: row.id)]
