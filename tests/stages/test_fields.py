"""The checks of the run's fields before they reach a path or a command."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.fields import Change, checked_branch, checked_nvr, validated_change
from stages.field_values import GOOD, HOSTILE


def test_validated_change_accepts_a_fedora_change() -> None:
    assert validated_change(GOOD) == Change(**GOOD)
    assert validated_change({**GOOD, "repo": "python3-foo_bar+gtk2.0"}).repo == "python3-foo_bar+gtk2.0"


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_validated_change_rejects_hostile_values(field: str, value: str) -> None:
    with pytest.raises(StageFailure, match=f"The field {field}="):
        validated_change({**GOOD, field: value})


@given(st.sampled_from(sorted(GOOD)), st.text(max_size=20), st.sampled_from(["/", "..", " ", "\n", ";", "$"]))
def test_validated_change_rejects_any_value_with_path_or_shell_syntax(
    field: str, text: str, bad: str
) -> None:
    with pytest.raises(StageFailure):
        validated_change({**GOOD, field: text + bad + text})


def test_validated_change_needs_every_field() -> None:
    with pytest.raises(StageFailure, match="namespace"):
        validated_change({key: value for key, value in GOOD.items() if key != "namespace"})


@pytest.mark.parametrize("branch", ["", "../x", "f26/../../etc", "-rf", "a b"])
def test_unsafe_branches_are_refused(branch: str) -> None:
    with pytest.raises(StageFailure):
        checked_branch({"branch": branch})


def test_nvr_needs_three_parts() -> None:
    assert checked_nvr({"nvr": "vim-7.4.160-1.200.591b0d2.fc26"}) == "vim-7.4.160-1.200.591b0d2.fc26"
    with pytest.raises(StageFailure):
        checked_nvr({"nvr": "vim-7.4"})
