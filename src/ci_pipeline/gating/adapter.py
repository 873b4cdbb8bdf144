"""The decision engine as the waivers and the decision-change announcements use it.

Which policies are in force, which decision contexts and product versions apply to a subject, and
the answer there with the subject's waivers. It stands on :mod:`ci_pipeline.web.gating`'s decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ci_pipeline.store import gating
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.results import stage_testcase
from ci_pipeline.store.waivers import waivers_for
from ci_pipeline.web.gating import Policy, decide, opt_in_policy, package_of
from ci_pipeline.web.resultsdb_query import result_json

DEFAULT_CONTEXT = "bodhi_update_push_stable"
DEFAULT_TEST_CASES = (stage_testcase("build"), stage_testcase("functional"))
#: A release's dist tag and the product its number belongs to (Greenwave's guess, without Koji).
_DIST_TAG = re.compile(r"^(?P<kind>fc|el|epel)(?P<number>[0-9]{1,4})(?:_[0-9]+)?$")
_PRODUCTS = {"fc": "fedora", "el": "rhel", "epel": "epel"}


def policies_in_force(
    session: Transaction, file_policies: Sequence[Policy], gated_packages: Sequence[str]
) -> list[Policy]:
    """The policy file's policies and one per opted-in package (the API's, and ``[web] gated_packages``)."""
    rows = gating.opt_ins(session)
    opted_in = [opt_in_policy(r.package, r.decision_context, r.test_cases) for r in rows]
    stored = {row.package for row in rows}
    configured = [
        opt_in_policy(package, DEFAULT_CONTEXT, DEFAULT_TEST_CASES)
        for package in gated_packages
        if package not in stored
    ]
    return [*file_policies, *opted_in, *configured]


def product_versions_of(subject_type: str, identifier: str) -> list[str]:
    """The product versions a subject belongs to, read from a build's dist tag (``.fc26``: fedora-26)."""
    if subject_type != "koji_build" or identifier.count("-") < 2:
        return []
    release = identifier.rsplit("-", 1)[1]
    found = _DIST_TAG.match(release.rsplit(".", 1)[-1])
    if found is None:
        return []
    return [f"{_PRODUCTS[found['kind']]}-{int(found['number'])}"]


def contexts_for(
    policies: Sequence[Policy], subject_type: str, identifier: str, product_version: str | None = None
) -> list[tuple[str, str]]:
    """The (decision context, product version) pairs at which some policy gates the subject."""
    package = package_of(subject_type, identifier)
    versions = [product_version] if product_version else product_versions_of(subject_type, identifier)
    return sorted(
        {
            (context, version)
            for policy in policies
            for context in policy.decision_contexts
            for version in versions
            if policy.applies_to(context, version, subject_type, package)
        }
    )


def decision_answer(
    session: Transaction,
    policies: Sequence[Policy],
    subject: tuple[str, str],
    decision_context: str,
    product_version: str,
    api: str,
    when: datetime | None = None,
) -> dict[str, Any]:
    """Greenwave's verbose answer for a subject at a decision context, its waivers honoured."""
    subject_type, identifier = subject
    package = package_of(subject_type, identifier)
    applicable = [
        p for p in policies if p.applies_to(decision_context, product_version, subject_type, package)
    ]
    waivers = waivers_for(session, [subject], product_version, when)

    def latest(item: str, testcase: str) -> Mapping[str, Any] | None:
        row = gating.latest_result(session, item, testcase)
        return None if row is None else result_json(row, api)

    return decide(applicable, subject_type, identifier, latest, waivers).as_json()
