"""Gating: maintainers' opt-ins (``/api/v1/gating``) and the Greenwave-compatible ``/api/v1.0/decision``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from ci_pipeline.gating.adapter import DEFAULT_CONTEXT, DEFAULT_TEST_CASES, policies_in_force, reader_for
from ci_pipeline.gating.decision import Gate, NoApplicablePolicies, decide
from ci_pipeline.gating.policies import Policy
from ci_pipeline.gating.request import request_from_json
from ci_pipeline.store import gating
from ci_pipeline.store.rows import GatedPackage
from ci_pipeline.store.waivers import waivers_for
from ci_pipeline.web.resultsdb import api_url
from ci_pipeline.web.state import WebState, require_token, web_state

router = APIRouter(tags=["gating"])


class OptIn(BaseModel):
    """What an opted-in package's builds must pass, and at which gating point."""

    decision_context: str = Field(default=DEFAULT_CONTEXT, min_length=1, max_length=100)
    test_cases: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_CASES), min_length=1)


def opt_in_json(row: GatedPackage) -> dict[str, Any]:
    """An opt-in as JSON."""
    return {"package": row.package, "decision_context": row.decision_context, "test_cases": row.test_cases}


@router.get("/api/v1/gating/packages", summary="the packages opted in to gating")
def list_opt_ins(request: Request) -> dict[str, Any]:
    """Every opted-in package with its test cases."""
    with web_state(request).store.session() as session:
        rows = gating.opt_ins(session)
        return {"data": [opt_in_json(row) for row in rows]}


@router.put(
    "/api/v1/gating/packages/{package}",
    dependencies=[Depends(require_token)],
    summary="opt a package in to gating (needs the token)",
)
def put_opt_in(package: str, body: OptIn, request: Request) -> dict[str, Any]:
    """Gate ``package``'s builds on ``test_cases`` at ``decision_context``."""
    if not package or len(package) > 255:
        raise HTTPException(status_code=400, detail="A package name is 1 to 255 characters long.")
    with web_state(request).store.session() as session:
        row = gating.save_opt_in(session, package, body.decision_context, body.test_cases)
        return opt_in_json(row)


@router.delete(
    "/api/v1/gating/packages/{package}",
    dependencies=[Depends(require_token)],
    summary="opt a package out of gating (needs the token)",
)
def delete_opt_in(package: str, request: Request) -> dict[str, Any]:
    """Stop gating ``package``."""
    with web_state(request).store.session() as session:
        if not gating.remove_opt_in(session, package):
            raise HTTPException(status_code=404, detail=f"The package '{package}' is not opted in to gating.")
    return {"package": package, "gated": False}


def all_policies(web: WebState) -> list[Policy]:
    """The policy file's policies and one per opted-in package (the API's, and ``[web] gated_packages``)."""
    with web.store.session() as session:
        return policies_in_force(session, web.policies, web.config.web.gated_packages)


def gate_of(web: WebState) -> Gate:
    """What decisions are made from: every policy (the file's and the opt-ins) and the gating.yaml reader."""
    return Gate(all_policies(web), reader_for(web.config.distgit.url))


@router.post("/api/v1.0/decision", summary="a Greenwave-compatible gating decision")
def decision(request: Request, body: Any = Body(...)) -> dict[str, Any]:  # noqa: B008
    """Whether the subjects satisfy every policy that applies to them at the decision contexts."""
    web = web_state(request)
    ask = request_from_json(body, api_url(request))
    gate = gate_of(web)
    web.sync_results()
    with web.store.session() as session:
        waivers = waivers_for(session, list(ask.subjects), ask.product_version, ask.when)
        try:
            return decide(session, ask, waivers, gate)
        except NoApplicablePolicies as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
