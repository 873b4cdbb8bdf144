"""Stage outputs files: any text parses or fails with StageFailure; valid keys round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.executors.outputs import (
    MAX_OUTPUTS_BYTES,
    OUTPUT_KEY,
    env_name,
    fields_environment,
    parse_outputs,
    read_outputs,
)

KEYS = st.from_regex(r"\A[a-z_][a-z0-9_-]{0,20}\Z")
#: Values hold no line break of any kind (str.splitlines splits on all of these).
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS), max_size=40)


@given(st.text())
def test_any_text_parses_or_raises_stage_failure_only(text: str) -> None:
    try:
        outputs = parse_outputs(text)
    except StageFailure as exc:
        assert str(exc).startswith("Line ")
    else:
        assert all(key == key.lower() for key in outputs)


@given(st.binary(max_size=300))
def test_any_file_bytes_read_or_raise_stage_failure_only(tmp_path_factory: pytest.TempPathFactory,
                                                        data: bytes) -> None:
    path = tmp_path_factory.mktemp("outputs") / "outputs.env"
    path.write_bytes(data)
    try:
        outputs = read_outputs(path)
    except StageFailure as exc:
        assert "outputs file" in str(exc)
    else:
        assert all(OUTPUT_KEY.match(key) for key in outputs)


@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_valid_keys_round_trip(outputs: dict[str, str]) -> None:
    text = "# written by a stage\n\n" + "".join(f"{key}={value}\n" for key, value in outputs.items())
    assert parse_outputs(text) == outputs


def test_keys_are_lower_cased_and_later_lines_win() -> None:
    assert parse_outputs("NVR=a-1-1\n  nvr = b\n") == {"nvr": " b"}


@pytest.mark.parametrize("line", ["no equals sign", "9key=1", "a key=1", "=value"])
def test_a_bad_line_names_its_number(line: str) -> None:
    with pytest.raises(StageFailure, match="Line 2 of the stage's outputs file"):
        parse_outputs(f"ok=1\n{line}\n")


def test_no_file_means_no_outputs_and_a_huge_file_is_refused(tmp_path: Path) -> None:
    assert read_outputs(tmp_path / "missing.env") == {}
    big = tmp_path / "big.env"
    big.write_text("a=" + "x" * MAX_OUTPUTS_BYTES)
    with pytest.raises(StageFailure, match="at most 65536 are read"):
        read_outputs(big)


def test_fields_become_environment_variables_when_they_can() -> None:
    environment = fields_environment({"message-content": "", "compose.rev": "abc", "bad name": "x",
                                      "nul": "a\0b"})
    assert environment == {"MESSAGE_CONTENT": "", "COMPOSE_REV": "abc"}
    assert env_name("CI_NAME") == "CI_NAME"
