"""Gating: maintainers' opt-ins (``/api/v1/gating``) and the Greenwave-compatible ``/api/v1.0/decision``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from ci_pipeline.gating.adapter import DEFAULT_CONTEXT, DEFAULT_TEST_CASES, policies_in_force
from ci_pipeline.store import gating
from ci_pipeline.store.rows import GatedPackage
from ci_pipeline.store.waivers import waivers_for
from ci_pipeline.web.gating import Policy, decide, package_of
from ci_pipeline.web.resultsdb import api_url
from ci_pipeline.web.resultsdb_query import result_json
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


class DecisionIn(BaseModel):
    """A Greenwave decision request."""

    decision_context: str = Field(min_length=1, max_length=100)
    product_version: str = Field(min_length=1, max_length=100)
    subject_type: str = Field(default="koji_build", min_length=1, max_length=64)
    subject_identifier: str = Field(min_length=1, max_length=255)


@router.post("/api/v1.0/decision", summary="a Greenwave-compatible gating decision")
def decision(body: DecisionIn, request: Request) -> dict[str, Any]:
    """Whether a subject satisfies every policy that applies to it at a gating point."""
    web = web_state(request)
    package = package_of(body.subject_type, body.subject_identifier)
    policies = [
        p
        for p in all_policies(web)
        if p.applies_to(body.decision_context, body.product_version, body.subject_type, package)
    ]
    if not policies:
        raise HTTPException(
            status_code=404,
            detail=(
                f"Found no applicable policies for {body.subject_type} subjects at gating point "
                f"{body.decision_context} in {body.product_version}."
            ),
        )
    web.sync_results()
    api = api_url(request)
    with web.store.session() as session:

        def latest(item: str, testcase: str) -> Mapping[str, Any] | None:
            row = gating.latest_result(session, item, testcase)
            return None if row is None else result_json(row, api)

        subject = (body.subject_type, body.subject_identifier)
        waivers = waivers_for(session, [subject], body.product_version, None)
        return decide(policies, body.subject_type, body.subject_identifier, latest, waivers).as_json()
