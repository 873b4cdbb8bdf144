"""Dist tags and the marked release: the pure parts of the spec handling."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.stages.rpm.specfile import (
    dist_macros,
    dist_tag,
    has_check_section,
    release_mark,
    rewrite_release,
)

hex_revs = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
release_values = st.from_regex(r"[0-9A-Za-z%{}?._]{1,20}", fullmatch=True).filter(lambda v: v.strip() == v)


@pytest.mark.parametrize(
    ("branch", "tag"),
    [
        ("f26", ".fc26"),
        ("f9", ".fc9"),
        ("master", ".fc27"),
        ("rawhide", ".fc27"),
        ("epel7", ".el7"),
        ("el6", ".el6"),
        ("epel9-next", ".el9"),
    ],
)
def test_dist_tag_of_known_branches(branch: str, tag: str) -> None:
    assert dist_tag(branch, rawhide=27) == tag


@pytest.mark.parametrize("branch", ["f", "fc26", "feature", "epel", "private-f26", "f26/x"])
def test_dist_tag_refuses_unknown_branches(branch: str) -> None:
    with pytest.raises(ValueError, match="no known dist tag"):
        dist_tag(branch, rawhide=27)


@given(st.integers(min_value=1, max_value=9999))
def test_fedora_branch_maps_to_its_number(number: int) -> None:
    assert dist_tag(f"f{number}", rawhide=27) == f".fc{number}"


def test_dist_macros_define_the_release_macro() -> None:
    assert dist_macros(".fc26") == {"dist": ".fc26", "fedora": "26"}
    assert dist_macros(".el7") == {"dist": ".el7", "rhel": "7"}


def test_release_mark_matches_the_seed_example() -> None:
    rev = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
    assert "vim-7.4.160-1" + release_mark(200, rev) + ".fc26" == "vim-7.4.160-1.200.591b0d2.fc26"


@given(st.integers(min_value=1, max_value=10**6), hex_revs)
def test_release_mark_is_count_and_short_rev(count: int, rev: str) -> None:
    assert re.fullmatch(rf"\.{count}\.{rev[:7]}", release_mark(count, rev))


def test_rewrite_release_appends_to_the_first_release_tag_only() -> None:
    spec = "Name: vim\nRelease:  1.fc26  \n%package x\nRelease: 9\n"
    assert (
        rewrite_release(spec, ".200.591b0d2")
        == "Name: vim\nRelease:  1.fc26.200.591b0d2\n%package x\nRelease: 9\n"
    )


def test_rewrite_release_is_case_insensitive_like_rpm() -> None:
    assert rewrite_release("release: 3\n", ".1.abcdef0") == "release: 3.1.abcdef0\n"


def test_rewrite_release_without_release_tag_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Release"):
        rewrite_release("Name: vim\n", ".1.abcdef0")


@given(release_values, st.integers(min_value=1, max_value=10**6), hex_revs)
def test_rewrite_release_keeps_everything_but_the_release_value(value: str, count: int, rev: str) -> None:
    spec = f"Name: pkg\nVersion: 1\nRelease: {value}\nSummary: s\n"
    mark = release_mark(count, rev)
    rewritten = rewrite_release(spec, mark)
    assert rewritten == spec.replace(f"Release: {value}\n", f"Release: {value}{mark}\n")


def test_has_check_section() -> None:
    assert has_check_section("%build\nmake\n%check\nmake test\n")
    assert not has_check_section("%build\nmake # no %check here\n")
