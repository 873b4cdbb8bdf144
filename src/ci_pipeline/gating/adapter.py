"""The decision engine as waivers and decision-change announcements use it.

Which policies are in force (the policy file's and the opt-ins), the reader of packages'
``gating.yaml``, and the verbose answer for one subject at one decision context and product version
with its waivers honoured, all on :mod:`ci_pipeline.gating.decision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from ci_pipeline.gating.decision import DecisionRequest, Gate, NoApplicablePolicies, contexts_for, decide
from ci_pipeline.gating.policies import Policy, opt_in_policy
from ci_pipeline.gating.remote import GatingYamlReader
from ci_pipeline.store import gating
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.results import stage_testcase
from ci_pipeline.store.waivers import waivers_for

__all__ = ["DEFAULT_CONTEXT", "DEFAULT_TEST_CASES", "contexts_for", "decision_answer", "policies_in_force",
           "reader_for"]

DEFAULT_CONTEXT = "bodhi_update_push_stable"
DEFAULT_TEST_CASES = (stage_testcase("build"), stage_testcase("functional"))


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


@cache
def reader_for(distgit_url: str) -> GatingYamlReader:
    """The reader of packages' gating.yaml on this dist-git (one per URL, so its reads are cached)."""
    return GatingYamlReader(distgit_url)


def decision_answer(
    session: Transaction,
    gate: Gate,
    subject: tuple[str, str],
    decision_context: str,
    product_version: str,
    api: str,
    when: datetime | None = None,
) -> dict[str, Any] | None:
    """Greenwave's verbose answer for a subject at a decision context, its waivers honoured; None
    when no policy applies there."""
    request = DecisionRequest(
        subjects=(subject,),
        decision_contexts=(decision_context,),
        product_version=product_version,
        verbose=True,
        when=when,
        results_api=api,
    )
    waivers = waivers_for(session, [subject], product_version, when)
    try:
        return decide(session, request, waivers, gate)
    except NoApplicablePolicies:
        return None
