"""The WaiverDB-compatible API under ``/api/v1.0/waivers/``: create, list and filter, get one.

A waiver says that a subject's result of a test case (and scenario) does not gate it in a product
version; a later one with ``waived`` false revokes it. Creating one needs the service's token; the
waiver is the token's user's (``ci-pipeline``), or, as WaiverDB's proxy users do, the ``username``
the request names, with ``proxied_by`` the token's user. The gating decisions a waiver changes are
announced on the bus in the same transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool

from ci_pipeline.errors import UsageError
from ci_pipeline.gating.adapter import policies_in_force
from ci_pipeline.gating.updates import announce_decision_changes
from ci_pipeline.store import waivers as store_waivers
from ci_pipeline.store.waivers import FILTERED_COLUMNS, WaiverFilter, waiver_json
from ci_pipeline.web.resultsdb_query import parse_int, parse_time
from ci_pipeline.web.state import RowId, require_token, web_state

router = APIRouter(prefix="/api/v1.0", tags=["waivers"])
#: Who creates a waiver with the service's token.
TOKEN_USER = "ci-pipeline"


class WaiverIn(BaseModel):
    """A waiver as WaiverDB clients post it: the subject as type and identifier, or as a dict."""

    subject_type: str | None = Field(default=None, min_length=1, max_length=255)
    subject_identifier: str | None = Field(default=None, min_length=1, max_length=255)
    subject: dict[str, Any] | None = None
    testcase: str = Field(min_length=1, max_length=255)
    scenario: str | None = Field(default=None, max_length=255)
    product_version: str = Field(min_length=1, max_length=200)
    waived: StrictBool = True
    comment: str = Field(min_length=1, max_length=10000)
    username: str | None = Field(default=None, min_length=1, max_length=255)


def subject_from_dict(subject: Mapping[str, Any]) -> tuple[str, str]:
    """WaiverDB's older ``subject`` dict as (subject_type, subject_identifier); UsageError if it
    names none."""
    def text(key: str) -> str | None:
        value = subject.get(key)
        return value if isinstance(value, str) and 0 < len(value) <= 255 else None

    kind, item = text("type"), text("item")
    if kind in ("koji_build", "brew-build") and item:
        return "koji_build", item
    if spec_nvr := text("original_spec_nvr"):
        return "koji_build", spec_nvr
    if compose := text("productmd.compose.id"):
        return "compose", compose
    if kind and item:
        return kind, item
    raise UsageError(
        "The subject must have a type and an item (or an original_spec_nvr or productmd.compose.id)."
    )


def waiver_subject(body: WaiverIn) -> tuple[str, str]:
    """The subject a posted waiver is for; a 400 when it names none, or names it twice."""
    given = body.subject_type is not None or body.subject_identifier is not None
    try:
        if body.subject is not None:
            if given:
                raise UsageError(
                    "Give the subject as subject_type and subject_identifier, or as subject, not both."
                )
            return subject_from_dict(body.subject)
        if body.subject_type is None or body.subject_identifier is None:
            raise UsageError("A waiver needs subject_type and subject_identifier (or a subject).")
    except UsageError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return body.subject_type, body.subject_identifier


def _row_of(body: WaiverIn) -> dict[str, Any]:
    subject_type, identifier = waiver_subject(body)
    return {
        "subject_type": subject_type,
        "subject_identifier": identifier,
        "testcase": body.testcase,
        "scenario": body.scenario or None,
        "product_version": body.product_version,
        "waived": body.waived,
        "comment": body.comment,
        "username": body.username or TOKEN_USER,
        "proxied_by": TOKEN_USER if body.username else None,
    }


@router.post("/waivers/", status_code=201, dependencies=[Depends(require_token)],
             summary="create a waiver, or a list of them (needs the token)")
@router.post("/waivers", status_code=201, dependencies=[Depends(require_token)], include_in_schema=False)
def create_waivers(body: WaiverIn | list[WaiverIn], request: Request) -> JSONResponse:
    """Store the posted waivers and announce the gating decisions they change, in one transaction."""
    web = web_state(request)
    posted = body if isinstance(body, list) else [body]
    if not posted:
        raise HTTPException(status_code=400, detail="The list of waivers is empty.")
    rows = [_row_of(item) for item in posted]
    web.sync_results()
    with web.store.session() as session:
        stored = [store_waivers.add_waiver(session, row) for row in rows]
        policies = policies_in_force(session, web.policies, web.config.web.gated_packages)
        for row in stored:
            subject = (row.subject_type, row.subject_identifier)
            announce_decision_changes(
                session, web.config, policies, [subject], product_version=row.product_version
            )
        payload = [waiver_json(row) for row in stored]
    return JSONResponse(payload if isinstance(body, list) else payload[0], status_code=201)


def waiver_filter(params: Mapping[str, str]) -> WaiverFilter:
    """The filters of a listing from its query parameters; ``since`` is a time or ``start,end``."""
    values: dict[str, Any] = {name: params[name] for name in FILTERED_COLUMNS if params.get(name)}
    since = params.get("since") or ""
    start, _, end = since.partition(",")
    if start:
        values["since"] = parse_time(start)
    if end or params.get("until"):
        values["until"] = parse_time(end or params["until"])
    values["include_obsolete"] = (params.get("include_obsolete") or "").lower() in ("1", "true", "yes", "on")
    return WaiverFilter(**values)


def _page_link(request: Request, page: int) -> str:
    params = [(key, value) for key, value in request.query_params.multi_items() if key != "page"]
    return f"{str(request.url).split('?', 1)[0]}?{urlencode([*params, ('page', str(page))])}"


@router.get("/waivers/", summary="waivers, newest first, filtered and paginated WaiverDB's way")
@router.get("/waivers", include_in_schema=False)
def list_waivers(request: Request) -> dict[str, Any]:
    """Waivers by subject, test case, product version, user, proxy and time; obsolete ones hidden
    unless ``include_obsolete``. Pages count from 1; ``first``, ``last``, ``prev``, ``next`` link them."""
    params = request.query_params
    try:
        found = waiver_filter(params)
        page = parse_int("page", params.get("page"), 1, 1, 10**6)
        limit = parse_int("limit", params.get("limit"), 10, 1, 1000)
    except UsageError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    with web_state(request).store.session() as session:
        rows, total = store_waivers.waiver_page(session, found, (page - 1) * limit, limit)
        data = [waiver_json(row) for row in rows]
    pages = math.ceil(total / limit)
    return {
        "data": data,
        "prev": _page_link(request, page - 1) if page > 1 else None,
        "next": _page_link(request, page + 1) if page < pages else None,
        "first": _page_link(request, 1),
        "last": _page_link(request, pages),
    }


@router.get("/waivers/{waiver_id}", summary="one waiver")
def get_waiver(waiver_id: RowId, request: Request) -> dict[str, Any]:
    """One waiver by id."""
    with web_state(request).store.session() as session:
        row = store_waivers.get_waiver(session, waiver_id)
        if row is None:
            raise HTTPException(status_code=404, detail="Waiver not found")
        return waiver_json(row)
