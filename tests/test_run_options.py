"""Per-run options: known keys, checked values, one clear error otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import UsageError
from ci_pipeline.run_options import RUN_OPTIONS, checked_options, forces_image, run_options


def test_known_options_pass_and_force_image_is_a_shorthand() -> None:
    assert run_options(["e2e_machines=3", "smoke_accel=tcg"], force_image=True) == {
        "force_image": "true",
        "e2e_machines": "3",
        "smoke_accel": "tcg",
    }
    url = "integration_tests_url=https://src.example.org/tests/atomic-host-tests.git"
    assert run_options([url])["integration_tests_url"].endswith(".git")


@pytest.mark.parametrize(
    ("pair", "needle"),
    [
        ("no-equals-sign", "is not KEY=VALUE"),
        ("colour=blue", "unknown"),
        ("e2e_machines=17", "not valid"),
        ("smoke_accel=xen", "not valid"),
        ("integration_tests_url=--upload-pack=touch /tmp/x", "not valid"),
        ("integration_tests_ref=-x", "not valid"),
        ("mock_config=../../etc/passwd", "not valid"),
    ],
)
def test_bad_options_are_one_usage_error(pair: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        run_options([pair])


@given(st.dictionaries(st.sampled_from(sorted(RUN_OPTIONS)), st.text(max_size=30), max_size=4))
def test_any_value_is_accepted_only_when_it_matches(options: dict[str, str]) -> None:
    try:
        checked = checked_options(options)
    except UsageError as exc:
        assert "is not valid" in str(exc)
    else:
        assert checked == options
        assert not any(value.startswith("-") for value in checked.values())


@pytest.mark.parametrize(("value", "forced"), [("true", True), ("YES", True), ("1", True), ("false", False),
                                               ("0", False), ("", False)])
def test_a_run_forces_an_image_only_when_its_option_says_so(value: str, forced: bool) -> None:
    assert forces_image({"force_image": value}) is forced
    assert forces_image({}) is False
