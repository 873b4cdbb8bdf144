"""The names the web service uses from :mod:`ci_pipeline.gating.policies` (policies, opt-ins)."""

from __future__ import annotations

from ci_pipeline.gating.policies import (
    PassingTestCaseRule,
    Policy,
    RemoteRule,
    load_policies,
    opt_in_policy,
    package_of,
    parse_policies,
)

__all__ = [
    "PassingTestCaseRule",
    "Policy",
    "RemoteRule",
    "load_policies",
    "opt_in_policy",
    "package_of",
    "parse_policies",
]
