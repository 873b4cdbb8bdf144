"""Unit tests of finding the e2e tests and writing their settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.qemu.e2e_suite import env_file_text, find_tests


def _file(path: Path, mode: int) -> None:
    path.write_text("#!/bin/sh\ntrue\n")
    path.chmod(mode)


def test_executable_plain_files_are_the_tests_in_name_order(tmp_path: Path) -> None:
    _file(tmp_path / "b-second.sh", 0o755)
    _file(tmp_path / "a-first", 0o700)
    _file(tmp_path / "helper.lib", 0o644)
    _file(tmp_path / ".hidden.sh", 0o755)
    _file(tmp_path / "has space.sh", 0o755)
    (tmp_path / "dir.sh").mkdir()
    (tmp_path / "link.sh").symlink_to(tmp_path / "a-first")
    assert find_tests(tmp_path) == ["a-first", "b-second.sh"]


def test_a_missing_folder_has_no_tests(tmp_path: Path) -> None:
    assert find_tests(tmp_path / "e2e") == []


def test_settings_are_one_assignment_a_line() -> None:
    text = env_file_text({"E2E_NVR": "ci-hello-1.2-2.fc26", "E2E_COMPOSE_REV": "ab" * 32})
    assert text == f"E2E_COMPOSE_REV={'ab' * 32}\nE2E_NVR=ci-hello-1.2-2.fc26\n"


@pytest.mark.parametrize(
    ("name", "value"),
    [("E2E_X", "a b"), ("E2E_X", "$(reboot)"), ("E2E_X", "a;b"), ("PATH", "x"), ("E2E_X", "'")],
)
def test_settings_a_shell_would_misread_are_refused(name: str, value: str) -> None:
    with pytest.raises(StageFailure, match="not safe"):
        env_file_text({name: value})


@given(st.dictionaries(st.from_regex(r"E2E_[A-Z]{1,8}", fullmatch=True), st.text(max_size=30), max_size=4))
def test_accepted_settings_contain_no_shell_syntax(values: dict[str, str]) -> None:
    try:
        text = env_file_text(values)
    except StageFailure:
        return
    assert not any(char in text for char in " $`;'\"\\|&<>()*?")
    assert text.count("\n") == len(values)
