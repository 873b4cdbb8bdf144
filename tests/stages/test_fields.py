"""The checks of the run's fields before they reach a path or a command."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.messages.fields import load_schema
from ci_pipeline.messages.identity import RUN_SCHEMA
from ci_pipeline.stages.fields import (
    CHANGE_FIELDS,
    Change,
    checked_field,
    checked_nvr,
    is_valid_field,
    validated_change,
)
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


@pytest.mark.parametrize("branch", ["", "../x", "f26/../../etc", "-rf", "a b", "f26..x"])
def test_unsafe_branches_are_refused(branch: str) -> None:
    with pytest.raises(StageFailure, match="The field branch="):
        checked_field({"branch": branch}, "branch")


def _schema_values(field: str) -> st.SearchStrategy[str]:
    """Strings the run schema's pattern for ``field`` accepts, within its maximum length."""
    rule = load_schema(RUN_SCHEMA)["properties"][field]
    pattern = rule["pattern"].removesuffix("(?!\\n)")
    limit = rule["maxLength"]
    return st.from_regex(pattern, fullmatch=True).filter(lambda v: "\n" not in v and len(v) <= limit)


@given(st.data())
def test_every_change_the_message_schema_accepts_is_accepted(data: st.DataObject) -> None:
    values = {name: data.draw(_schema_values(name).filter(lambda v: ".." not in v)) for name in CHANGE_FIELDS}
    assert validated_change(values) == Change(**values)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("repo", "_" + "x" * 199),  # the schema's 200 characters, starting with _
        ("namespace", "Rpms.Legacy+1"),  # the schema's namespaces: any case, dots and pluses
        ("namespace", "n" * 100),
        ("branch", "b" * 100),
    ],
)
def test_the_message_schema_limits_hold_not_limits_of_the_stage(field: str, value: str) -> None:
    assert checked_field({**GOOD, field: value}, field) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [("repo", "x" * 201), ("namespace", "n" * 101), ("branch", "b" * 101), ("rev", "591b0d2")],
)
def test_values_past_the_message_schema_limits_are_refused_with_its_rule(field: str, value: str) -> None:
    rule = load_schema(RUN_SCHEMA)["properties"][field]["description"]
    with pytest.raises(StageFailure, match=re.escape(f"it must be {rule}.")):
        checked_field({**GOOD, field: value}, field)
    assert not is_valid_field(field, value)


def test_nvr_needs_three_parts() -> None:
    assert checked_nvr({"nvr": "vim-7.4.160-1.200.591b0d2.fc26"}) == "vim-7.4.160-1.200.591b0d2.fc26"
    with pytest.raises(StageFailure):
        checked_nvr({"nvr": "vim-7.4"})
