"""The marked release and the unexpanded-macro check: the pure parts of the spec handling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.rpm.specfile import (
    checked_nvr,
    has_check_section,
    release_mark,
    rewrite_release,
    unexpanded_macro,
)

hex_revs = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
release_values = st.from_regex(r"[0-9A-Za-z%{}?._]{1,20}", fullmatch=True).filter(lambda v: v.strip() == v)


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


def test_rewrite_release_passes_a_macro_call_with_arguments_through_a_macro_of_its_own() -> None:
    spec = "Name: vim\nRelease: %autorelease -n -b 2\nSummary: s\n"
    assert rewrite_release(spec, ".200.591b0d2") == (
        "Name: vim\n%global ci_pipeline_release %autorelease -n -b 2\n"
        "Release: %{ci_pipeline_release}.200.591b0d2\nSummary: s\n"
    )


# NVR text as rpm prints it: no "%" anywhere.
nvr_parts = st.from_regex(r"[A-Za-z0-9._+~^-]{0,20}", fullmatch=True)
macro_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)


@pytest.mark.parametrize(
    ("nvr", "macro"),
    [
        ("hello-1.0-%autorelease", "%autorelease"),
        ("hello-1.0-%{autorelease}.fc26", "%{autorelease}"),
        ("hello-1.0-%{?autorelease}", "%{?autorelease}"),
        ("hello-%{version_no_tilde}-1.fc26", "%{version_no_tilde}"),
        ("hello-1.0-1%{", "%{"),
        ("hello-1.0-1%{dist", "%{dist"),
        ("hello-1.0-1%(echo 1)", "%(echo 1)"),
        ("hello-1.0-1%", "%"),
        ("hello-1.0-1%.fc26", "%"),
        ("hello-1.0-%?dist", "%?dist"),
    ],
)
def test_unexpanded_macro_names_the_macro_as_written(nvr: str, macro: str) -> None:
    assert unexpanded_macro(nvr) == macro


@given(nvr_parts)
def test_an_nvr_without_percent_holds_no_macro(nvr: str) -> None:
    assert unexpanded_macro(nvr) is None
    assert checked_nvr(nvr, Path("x.spec")) == nvr


@given(nvr_parts, macro_names, st.sampled_from(["%{}", "%{{{}}}", "%{{?{}}}", "%{{{} -b 2}}"]), nvr_parts)
def test_a_macro_anywhere_in_an_nvr_is_found_whole(before: str, name: str, form: str, after: str) -> None:
    macro = form.format(name)
    # A bare %name ends where the name does, so what follows it must not continue the name.
    if form == "%{}" and (after[:1].isalnum() or after[:1] == "_"):
        after = "." + after
    assert unexpanded_macro(before + macro + after) == macro


@given(st.text(max_size=40))
def test_any_text_with_a_percent_names_a_macro_from_it(text: str) -> None:
    found = unexpanded_macro(text)
    if "%" in text:
        assert found is not None and found.startswith("%") and found in text
    else:
        assert found is None


def test_checked_nvr_fails_naming_the_macro() -> None:
    reason = r"The NVR hello-1\.0-%autorelease of hello\.spec holds the unexpanded macro %autorelease:"
    with pytest.raises(StageFailure, match=reason):
        checked_nvr("hello-1.0-%autorelease", Path("/x/hello.spec"))


macro_calls = st.from_regex(r"%[a-z]{1,12}( -[a-z]( [0-9A-Za-z.~]{1,8})?){1,3}", fullmatch=True)


@given(macro_calls, st.integers(min_value=1, max_value=10**6), hex_revs)
def test_a_release_with_arguments_is_marked_through_its_own_macro(value: str, count: int, rev: str) -> None:
    spec = f"Name: pkg\nVersion: 1\nRelease: {value}\nSummary: s\n"
    mark = release_mark(count, rev)
    marked = f"%global ci_pipeline_release {value}\nRelease: %{{ci_pipeline_release}}{mark}\n"
    assert rewrite_release(spec, mark) == spec.replace(f"Release: {value}\n", marked)
