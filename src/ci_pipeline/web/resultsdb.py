"""The ResultsDB v2.0 compatible API under ``/api/v2.0``: results, test cases and groups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ci_pipeline.errors import UsageError
from ci_pipeline.gating.adapter import policies_in_force
from ci_pipeline.gating.updates import announce_decision_changes
from ci_pipeline.store import resultsdb as rdb
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.results import OUTCOMES
from ci_pipeline.store.rows import ResultGroup, ResultTestcase
from ci_pipeline.web.resultsdb_query import (
    ResultFilter,
    iso,
    parse_int,
    parse_time,
    result_json,
)
from ci_pipeline.web.state import RowId, check_token, web_state

router = APIRouter(prefix="/api/v2.0", tags=["resultsdb"])


def api_url(request: Request) -> str:
    """The base URL of this API as the client reached it."""
    return str(request.base_url).rstrip("/") + "/api/v2.0"


def _filter(request: Request) -> ResultFilter:
    try:
        return ResultFilter.from_params(request.query_params.multi_items())
    except UsageError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def page_links(request: Request, page: int, has_next: bool) -> dict[str, str | None]:
    """ResultsDB's ``prev`` and ``next`` URLs for a page."""
    params = [(key, value) for key, value in request.query_params.multi_items() if key != "page"]
    base = str(request.url).split("?", 1)[0]

    def link(number: int) -> str:
        return f"{base}?{urlencode([*params, ('page', str(number))])}"

    return {"prev": link(page - 1) if page > 0 else None, "next": link(page + 1) if has_next else None}


def _page_of(request: Request) -> tuple[int, int]:
    """The ``page`` and ``limit`` query parameters; a bad one is a 400."""
    params = request.query_params
    try:
        page = parse_int("page", params.get("page"), 0, 0, 10**6)
        limit = parse_int("limit", params.get("limit"), 20, 1, 1000)
    except UsageError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return page, limit


def _paged(
    request: Request,
    fetch: Callable[[Transaction, int, int], Sequence[Any]],
    to_json: Callable[[Any, str], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``fetch``'s rows (given offset and limit) in ResultsDB's shape: ``data`` with
    ``prev`` and ``next`` links."""
    state = web_state(request)
    page, limit = _page_of(request)
    state.sync_results()
    with state.store.session() as session:
        rows = list(fetch(session, page * limit, limit + 1))
    api = api_url(request)
    return {
        "data": [to_json(row, api) for row in rows[:limit]],
        **page_links(request, page, len(rows) > limit),
    }


@router.get("/results", summary="results, newest first, filtered ResultsDB's way")
def list_results(request: Request) -> dict[str, Any]:
    """Results filtered by test case, outcome, since, groups and any data key (``key:like`` with ``*``)."""
    state = web_state(request)
    found = _filter(request)
    state.sync_results()
    with state.store.session() as session:
        rows = rdb.result_page(session, found)
    api = api_url(request)
    data = [result_json(row, api) for row in rows[: found.limit]]
    return {"data": data, **page_links(request, found.page, len(rows) > found.limit)}


@router.get("/results/latest", summary="the newest result of each test case")
def list_latest(request: Request) -> dict[str, Any]:
    """The newest result of every test case matching the filters (``_distinct_on`` keys split them)."""
    state = web_state(request)
    found = _filter(request)
    state.sync_results()
    with state.store.session() as session:
        rows = rdb.latest_results(session, found)
    api = api_url(request)
    return {"data": [result_json(row, api) for row in rows]}


@router.get("/results/{result_id}", summary="one result")
def get_result(result_id: RowId, request: Request) -> dict[str, Any]:
    """One result by id."""
    state = web_state(request)
    with state.store.session() as session:
        row = rdb.get_result(session, result_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Result not found")
    return result_json(row, api_url(request))


class _Testcase(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    ref_url: str | None = None
    auth_token: str | None = Field(default=None, alias="_auth_token")


class _Group(BaseModel):
    uuid: str = Field(min_length=1, max_length=36)
    description: str | None = None
    ref_url: str | None = None
    auth_token: str | None = Field(default=None, alias="_auth_token")


class ResultIn(BaseModel):
    """A result as ResultsDB clients post it."""

    outcome: str
    testcase: str | _Testcase
    groups: list[str | _Group] | None = None
    note: str | None = None
    ref_url: str | None = None
    data: dict[str, Any] | None = None
    submit_time: str | int | float | None = None
    auth_token: str | None = Field(default=None, alias="_auth_token")


def _data_lists(data: dict[str, Any] | None) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for key, value in (data or {}).items():
        values = value if isinstance(value, list) else [value]
        lists[key] = [str(item) for item in values if item is not None]
    return lists


@router.post("/results", status_code=201, summary="store a result (needs the token)")
def create_result(body: ResultIn, request: Request) -> JSONResponse:
    """Store a posted result; the token comes as a bearer header or as ``_auth_token``."""
    state = web_state(request)
    check_token(state, request.headers.get("authorization"), body.auth_token)
    outcome = body.outcome.upper()
    if outcome not in OUTCOMES:
        raise HTTPException(status_code=400, detail=f"outcome must be one of {', '.join(OUTCOMES)}.")
    testcase = body.testcase if isinstance(body.testcase, _Testcase) else _Testcase(name=body.testcase)
    data = _data_lists(body.data)
    submit_time = None
    if isinstance(body.submit_time, str):
        try:
            submit_time = parse_time(body.submit_time)
        except UsageError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
    groups = [group if isinstance(group, _Group) else _Group(uuid=group) for group in body.groups or []]
    row: dict[str, Any] = {
        "testcase": testcase.name,
        "outcome": outcome,
        "note": body.note,
        "ref_url": body.ref_url,
        "item": (data.get("item") or [""])[0],
        "type": (data.get("type") or [""])[0],
        "data": data,
        "group_uuid": groups[0].uuid if groups else None,
        "source": "api",
    }
    if submit_time is not None:
        row["submit_time"] = submit_time
    state.sync_results()  # the decisions this result may change look at the stages' results too
    with state.store.session() as session:
        found = [(group.uuid, group.description, group.ref_url) for group in groups]
        stored = rdb.add_result(session, row, found)
        payload = result_json(stored, api_url(request))
        if stored.item:
            # Greenwave's rule: a result without a type is about a build.
            subject = (stored.type or "koji_build", stored.item)
            policies = policies_in_force(session, state.policies, state.config.web.gated_packages)
            announce_decision_changes(session, state.config, policies, [subject])
    return JSONResponse(payload, status_code=201)


def testcase_json(row: ResultTestcase, api: str) -> dict[str, Any]:
    """A test case in ResultsDB's JSON shape."""
    return {"name": row.name, "ref_url": row.ref_url, "href": f"{api}/testcases/{row.name}"}


@router.get("/testcases", summary="test cases")
def list_testcases(request: Request) -> dict[str, Any]:
    """Test cases, filtered by ``name`` and ``name:like`` (comma lists)."""
    params = request.query_params
    names = params["name"].split(",") if params.get("name") else []
    patterns = [p for p in params.get("name:like", "").split(",") if p]

    def fetch(session: Transaction, offset: int, limit: int) -> Sequence[ResultTestcase]:
        return rdb.testcase_page(session, names, patterns, offset, limit)

    return _paged(request, fetch, testcase_json)


@router.get("/testcases/{name:path}", summary="one test case")
def get_testcase(name: str, request: Request) -> dict[str, Any]:
    """One test case by name."""
    with web_state(request).store.session() as session:
        row = rdb.get_testcase(session, name)
    if row is None:
        raise HTTPException(status_code=404, detail="Testcase not found")
    return testcase_json(row, api_url(request))


@router.post("/testcases", status_code=201, summary="create or update a test case (needs the token)")
def create_testcase(body: _Testcase, request: Request) -> dict[str, Any]:
    """Create a test case, or set its ref_url."""
    state = web_state(request)
    check_token(state, request.headers.get("authorization"), body.auth_token)
    with state.store.session() as session:
        row = rdb.save_testcase(session, body.name, body.ref_url)
    return testcase_json(row, api_url(request))


def group_json(row: ResultGroup, api: str) -> dict[str, Any]:
    """A group in ResultsDB's JSON shape."""
    return {
        "uuid": row.uuid,
        "description": row.description,
        "ref_url": row.ref_url,
        "results": f"{api}/results?groups={row.uuid}",
        "href": f"{api}/groups/{row.uuid}",
        "created_at": iso(row.created_at),
    }


@router.get("/groups", summary="groups: one per run, and posted ones")
def list_groups(request: Request) -> dict[str, Any]:
    """Groups, filtered by ``uuid``, ``description`` and ``description:like``."""
    params = request.query_params
    uuids = params["uuid"].split(",") if params.get("uuid") else []

    def fetch(session: Transaction, offset: int, limit: int) -> Sequence[ResultGroup]:
        return rdb.group_page(
            session, uuids, params.get("description"), params.get("description:like"), offset, limit
        )

    return _paged(request, fetch, group_json)


@router.get("/groups/{uuid}", summary="one group")
def get_group(uuid: str, request: Request) -> dict[str, Any]:
    """One group by uuid."""
    with web_state(request).store.session() as session:
        row = rdb.get_group(session, uuid)
    if row is None:
        raise HTTPException(status_code=404, detail="Group not found")
    return group_json(row, api_url(request))


@router.post("/groups", status_code=201, summary="create or update a group (needs the token)")
def create_group(body: _Group, request: Request) -> dict[str, Any]:
    """Create a group, or change its description and ref_url."""
    state = web_state(request)
    check_token(state, request.headers.get("authorization"), body.auth_token)
    with state.store.session() as session:
        row = rdb.save_group(session, body.uuid, body.description, body.ref_url)
    return group_json(row, api_url(request))
