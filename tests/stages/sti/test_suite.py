"""Where the integration suite comes from, and the checks on its URL and ref."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.sti.suite import suite_source

TEMPLATE = "file:///srv/git/{namespace}/{repo}.git"


def test_default_suite_is_atomic_host_tests_at_the_branch_then_master() -> None:
    assert suite_source(TEMPLATE, "f26", {}, {}) == (
        "file:///srv/git/tests/atomic-host-tests.git",
        ["f26", "master"],
    )
    assert suite_source(TEMPLATE, "master", {}, {})[1] == ["master"]


def test_options_win_over_fields() -> None:
    options = {"integration_tests_url": "https://git.example/suite.git", "integration_tests_ref": "v2"}
    fields = {"integration_tests_url": "https://other/x.git", "integration_tests_ref": "v1"}
    assert suite_source(TEMPLATE, "f26", options, fields) == ("https://git.example/suite.git", ["v2"])
    assert suite_source(TEMPLATE, "f26", {}, fields) == ("https://other/x.git", ["v1"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("integration_tests_url", "--upload-pack=touch /tmp/x"),
        ("integration_tests_url", "relative/path"),
        ("integration_tests_url", "https://a b"),
        ("integration_tests_ref", "-x"),
        ("integration_tests_ref", "a..b"),
        ("integration_tests_ref", "main\n"),
    ],
)
def test_unsafe_urls_and_refs_are_refused(key: str, value: str) -> None:
    with pytest.raises(StageFailure):
        suite_source(TEMPLATE, "f26", {key: value}, {})


@given(st.text(max_size=60))
def test_any_ref_is_refused_or_safe_for_git(ref: str) -> None:
    try:
        _, refs = suite_source(TEMPLATE, "f26", {"integration_tests_ref": ref}, {})
    except StageFailure:
        return
    assert not refs[0].startswith("-") and ".." not in refs[0] and not any(c.isspace() for c in refs[0])
