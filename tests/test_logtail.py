"""The end of a log: its last lines or bytes, read from the end of the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.logtail import log_tail, tail_bytes, tail_lines


def test_the_last_lines_of_a_big_log(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    log.write_text("".join(f"line {number}\n" for number in range(200_000)))
    assert tail_lines(log, 3) == ["line 199997", "line 199998", "line 199999"]
    assert log_tail(log, 2) == "line 199998\nline 199999"
    assert tail_bytes(log, 7) == b"199999\n"


def test_an_unreadable_log_has_an_empty_tail_for_a_reason(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "missing.log") == ""


@given(lines=st.lists(st.text(alphabet="ab é", max_size=20), max_size=40), count=st.integers(0, 50))
def test_tail_lines_is_the_end_of_splitlines(lines: list[str], count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "log"
        text = "\n".join(lines)
        log.write_text(text, encoding="utf-8")
        expected = text.splitlines()[-count:] if count else []
        assert tail_lines(log, count) == expected
