"""Which specs go through rpmautospec, and a host without it (history runs: tests/integration)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages.rpm.autospec import expand_autospec, uses_rpmautospec

PREAMBLE = "Name: hello\nVersion: 1.0\nRelease: {release}\nSummary: s\nLicense: MIT\n\n%description\nd\n"


@pytest.mark.parametrize(
    ("release", "changelog", "uses"),
    [
        ("%autorelease", "%changelog\n%autochangelog\n", True),
        ("%{autorelease}", "%changelog\n* Mon Jan 01 2018 A <a@b.c> - 1.0-1\n- x\n", True),
        ("%{?autorelease}", "", True),
        ("%autorelease -b 2 -e pre1", "", True),
        ("1%{?dist}", "%changelog\n%autochangelog\n", True),
        ("1%{?dist}", "%changelog\n* Mon Jan 01 2018 A <a@b.c> - 1.0-1\n- x\n", False),
        ("1%{?dist}", "", False),
    ],
)
def test_specs_using_autorelease_or_autochangelog_go_through_rpmautospec(
    tmp_path: Path, release: str, changelog: str, uses: bool
) -> None:
    spec = tmp_path / "hello.spec"
    spec.write_text(PREAMBLE.format(release=release) + changelog)
    assert uses_rpmautospec(spec) is uses


def test_a_spec_rpmautospec_already_expanded_is_left_alone(tmp_path: Path) -> None:
    spec = tmp_path / "hello.spec"
    spec.write_text(
        "## START: Set by rpmautospec\n## (rpmautospec version 0.8.5)\n## RPMAUTOSPEC: autorelease\n"
        "%define autorelease(e:s:pb:n) %{?-p:0.}3%{?dist}\n## END: Set by rpmautospec\n\n"
        + PREAMBLE.format(release="%autorelease")
    )
    assert not uses_rpmautospec(spec)
    assert expand_autospec(spec, tmp_path / "out.spec") == spec


def test_a_host_where_rpmautospec_cannot_load_is_an_infrastructure_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "hello.spec"
    spec.write_text(PREAMBLE.format(release="%autorelease"))
    # A module set to None in sys.modules fails to import, as rpmautospec does without librpm.
    monkeypatch.setitem(sys.modules, "rpmautospec", None)
    with pytest.raises(InfrastructureError, match="rpmautospec cannot be used on this host"):
        expand_autospec(spec, tmp_path / "out.spec")
    assert not (tmp_path / "out.spec").exists()
