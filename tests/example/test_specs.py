"""Tests of the hand edits made to spec files."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.example import specs

SPEC = """Name:           demo
Version:        1.2
Release:        2%{?dist}
Source0:        %{name}-%{version}.tar.gz

%prep
%autosetup -p1

%changelog
* Tue Jun 06 2017 CI Example Maintainer <ci-example@example.org> - 1.2-2
- Second entry

* Mon Jun 05 2017 CI Example Maintainer <ci-example@example.org> - 1.2-1
- Initial package
"""


def test_release_and_version_are_read() -> None:
    assert specs.release_of(SPEC) == 2
    assert specs.version_of(SPEC) == "1.2"


@given(st.integers(min_value=1, max_value=10**6))
def test_with_release_sets_the_number_and_keeps_dist(release: int) -> None:
    changed = specs.with_release(SPEC, release)
    assert f"Release:        {release}%{{?dist}}\n" in changed
    assert specs.release_of(changed) == release


def test_bump_raises_the_release_and_adds_a_changelog_entry() -> None:
    bumped = specs.bump(SPEC, date(2018, 3, 1), "Fix the greeting")
    assert specs.release_of(bumped) == 3
    heading = "* Thu Mar 01 2018 CI Example Maintainer <ci-example@example.org> - 1.2-3"
    expected = f"{heading}\n- Fix the greeting\n\n"
    assert "%changelog\n" + expected + "* Tue Jun 06" in bumped


def test_changelog_heading_uses_english_names() -> None:
    heading = specs.changelog_heading(date(2017, 6, 5), "26", 1)
    assert heading == "* Mon Jun 05 2017 CI Example Maintainer <ci-example@example.org> - 26-1"


def test_dropping_the_top_entry_recreates_the_older_changelog() -> None:
    older = specs.drop_top_changelog_entry(SPEC)
    assert "Second entry" not in older
    heading = "* Mon Jun 05 2017 CI Example Maintainer <ci-example@example.org> - 1.2-1"
    assert older.endswith(f"%changelog\n{heading}\n- Initial package\n")
    assert specs.top_changelog_text(SPEC) == "Second entry"
    with pytest.raises(StageFailure, match="single entry"):
        specs.drop_top_changelog_entry(older)


def test_add_patch_numbers_patches_after_source0() -> None:
    once = specs.add_patch(SPEC, "one.patch")
    twice = specs.add_patch(once, "two.patch")
    patches = "Patch0:         one.patch\nPatch1:         two.patch\n"
    assert "Source0:        %{name}-%{version}.tar.gz\n" + patches in twice


@pytest.mark.parametrize(
    ("spec", "call"),
    [
        (SPEC.replace("Release:        2%{?dist}", "Release: 2"), lambda s: specs.release_of(s)),
        (SPEC.replace("%changelog\n", ""), lambda s: specs.bump(s, date(2018, 1, 1), "x")),
        (SPEC.replace("%autosetup -p1", "%setup -q"), lambda s: specs.add_patch(s, "x.patch")),
        (SPEC.replace("Version:        1.2\n", ""), lambda s: specs.version_of(s)),
    ],
)
def test_unsupported_specs_are_refused(spec: str, call: object) -> None:
    assert callable(call)
    with pytest.raises(StageFailure):
        call(spec)
