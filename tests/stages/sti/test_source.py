"""Which spec the standard-test-source role prepares."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.stages.sti.source import SourceError, find_spec


def test_the_spec_beside_tests_is_taken(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "vim.spec").write_text("Name: vim\n")
    assert find_spec(tmp_path / "tests") == (tmp_path / "vim.spec").resolve()


@pytest.mark.parametrize("specs", [[], ["a.spec", "b.spec"]])
def test_no_spec_or_several_is_refused_naming_them(tmp_path: Path, specs: list[str]) -> None:
    (tmp_path / "tests").mkdir()
    for name in specs:
        (tmp_path / name).write_text("Name: x\n")
    with pytest.raises(SourceError, match="the one spec beside tests/"):
        find_spec(tmp_path / "tests")
