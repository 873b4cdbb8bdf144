"""The decision engine as waivers and decision changes use it: product versions and decision contexts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.gating.decision import Gate, contexts_for, product_versions_of
from ci_pipeline.gating.policies import opt_in_policy, parse_policies


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("vim-7.4.160-1.200.591b0d2.fc26", ["fedora-26"]),
        ("vim-7.4-1.el8", ["epel-8"]),  # as Greenwave guesses: Fedora's infrastructure builds EPEL
        ("vim-7.4-1.el8_2", ["epel-8"]),
        ("vim-7.4-1", []),
        ("vim-7.4-1.fcx", []),
        ("vim@591b0d2", []),
    ],
)
def test_a_build_belongs_to_the_product_of_its_dist_tag(identifier: str, expected: list[str]) -> None:
    assert product_versions_of("koji_build", identifier) == expected


@given(st.text(max_size=100))
def test_any_identifier_gives_at_most_one_product_version(identifier: str) -> None:
    versions = product_versions_of("koji_build", identifier)
    assert all(v.split("-")[0] in ("fedora", "epel") for v in versions)
    assert product_versions_of("compose", identifier) == []


def test_contexts_are_those_of_the_policies_that_gate_the_subject() -> None:
    policies = [
        *parse_policies(
            "--- !Policy\nid: f\nproduct_versions: [fedora-*]\ndecision_contexts: [a, b]\n"
            "rules: []\n--- !Policy\nid: e\nproduct_versions: [epel-*]\ndecision_context: c\nrules: []\n"
        ),
        opt_in_policy("vim", "d", ["t"]),
    ]
    gate = Gate(policies)
    assert contexts_for("koji_build", "vim-1-1.fc26", gate) == [
        ("a", "fedora-26"), ("b", "fedora-26"), ("d", "fedora-26"),
    ]
    assert contexts_for("koji_build", "nano-1-1.fc26", gate) == [("a", "fedora-26"), ("b", "fedora-26")]
    epel = contexts_for("koji_build", "vim-1-1.fc26", gate, "epel-7")
    assert epel == [("c", "epel-7"), ("d", "epel-7")]
    assert contexts_for("koji_build", "vim-1-1", gate) == []
