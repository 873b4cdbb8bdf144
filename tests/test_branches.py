"""The branch rule: which dist-git branches the trigger takes, and the release each one builds for."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline import config as config_module
from ci_pipeline.branches import DEFAULT_BRANCHES, BranchRelease, Family, branch_release, dist_tag
from ci_pipeline.config import Config

RAWHIDE = 27


@pytest.mark.parametrize(
    ("branch", "tag", "releasever", "macros"),
    [
        ("rawhide", ".fc27", "27", {"dist": ".fc27", "fedora": "27"}),
        ("master", ".fc27", "27", {"dist": ".fc27", "fedora": "27"}),
        ("f26", ".fc26", "26", {"dist": ".fc26", "fedora": "26"}),
        ("f41", ".fc41", "41", {"dist": ".fc41", "fedora": "41"}),
        ("epel8", ".el8", "8", {"dist": ".el8", "rhel": "8", "epel": "8"}),
        ("epel9-next", ".el9", "9", {"dist": ".el9", "rhel": "9", "epel": "9"}),
        ("el6", ".el6", "6", {"dist": ".el6", "rhel": "6", "epel": "6"}),
        ("c9s", ".el9", "9", {"dist": ".el9", "rhel": "9", "centos": "9"}),
        ("c10s", ".el10", "10", {"dist": ".el10", "rhel": "10", "centos": "10"}),
    ],
)
def test_each_kind_of_branch_has_its_dist_tag_releasever_and_macros(
    branch: str, tag: str, releasever: str, macros: dict[str, str]
) -> None:
    release = branch_release(branch, RAWHIDE)
    assert (release.dist_tag, release.releasever, release.macros()) == (tag, releasever, macros)
    assert dist_tag(branch, RAWHIDE) == tag


@pytest.mark.parametrize("branch", ["f", "fc26", "feature", "epel", "c9", "cs9", "private-f26", "f26/x", ""])
def test_a_branch_without_a_release_is_refused(branch: str) -> None:
    with pytest.raises(ValueError, match="no known dist tag"):
        branch_release(branch, RAWHIDE)


@given(st.integers(min_value=1, max_value=999))
def test_rawhide_and_master_build_for_the_configured_rawhide(rawhide: int) -> None:
    assert branch_release("rawhide", rawhide) == BranchRelease(Family.FEDORA, rawhide)
    assert branch_release("master", rawhide) == branch_release("rawhide", rawhide)
    assert dist_tag("rawhide", rawhide) == f".fc{rawhide}"


@given(st.integers(min_value=1, max_value=9999))
def test_fedora_branch_maps_to_its_number(number: int) -> None:
    assert dist_tag(f"f{number}", RAWHIDE) == f".fc{number}"


@pytest.mark.parametrize(
    "branch", ["rawhide", "master", "f26", "f41", "epel7", "epel8", "epel9-next", "c8s", "c9s", "c10s"]
)
def test_the_default_rule_takes_fedora_epel_and_centos_stream_branches(branch: str) -> None:
    assert re.fullmatch(DEFAULT_BRANCHES, branch)


@pytest.mark.parametrize("branch", ["main", "el6", "f26x", "epel", "epel8-playground", "c9", "private-x"])
def test_the_default_rule_refuses_other_branches(branch: str) -> None:
    assert not re.fullmatch(DEFAULT_BRANCHES, branch)


@given(st.from_regex(DEFAULT_BRANCHES, fullmatch=True))
def test_every_branch_the_default_rule_takes_has_a_release(branch: str) -> None:
    release = branch_release(branch, RAWHIDE)
    assert release.dist_tag in {f".fc{release.number}", f".el{release.number}"}


def test_the_configuration_defaults_to_the_rule_and_documents_it() -> None:
    assert Config().trigger.branches == DEFAULT_BRANCHES
    assert f'branches = "{DEFAULT_BRANCHES}"' in (config_module.__doc__ or "")
