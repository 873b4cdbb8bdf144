"""Unit tests of reading the e2e lines of a machine's console."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.stages.qemu.console import parse_console, parse_e2e_console

CONSOLE = """CI-PIPELINE-BOOTED\r
CI-PIPELINE-E2E-MACHINE machine2
CI-PIPELINE-E2E-START apps-work.sh
ci-hello works
[   12.5] random: crng init done
CI-PIPELINE-E2E PASS apps-work.sh
CI-PIPELINE-E2E-START reaches-its-peers.sh
10.77.0.11 cannot be reached\r
CI-PIPELINE-E2E FAIL reaches-its-peers.sh
CI-PIPELINE-E2E-DONE
CI-PIPELINE-BOOT-DONE
"""


def test_results_keep_each_tests_output_in_order() -> None:
    report = parse_e2e_console(CONSOLE)
    assert report.machine == "machine2" and report.done and report.boot.done
    assert [(t.name, t.outcome) for t in report.tests] == [
        ("apps-work.sh", "PASSED"),
        ("reaches-its-peers.sh", "FAILED"),
    ]
    assert report.tests[0].output == "ci-hello works\n[   12.5] random: crng init done"
    assert report.tests[1].output == "10.77.0.11 cannot be reached"


def test_a_console_cut_short_is_not_done_and_keeps_finished_tests() -> None:
    report = parse_e2e_console(CONSOLE.split("CI-PIPELINE-E2E-START reaches")[0])
    assert not report.done and not report.boot.done
    assert [t.name for t in report.tests] == ["apps-work.sh"]


def test_errors_are_collected_and_unknown_verdicts_ignored() -> None:
    text = "CI-PIPELINE-E2E-ERROR the e2e suite disk cannot be mounted\nCI-PIPELINE-E2E MAYBE x\n"
    report = parse_e2e_console(text)
    assert report.errors == ["the e2e suite disk cannot be mounted"]
    assert report.tests == [] and not report.done


def test_a_verdict_without_start_has_no_output() -> None:
    report = parse_e2e_console("noise\nCI-PIPELINE-E2E PASS lonely.sh\n")
    assert [(t.name, t.output) for t in report.tests] == [("lonely.sh", "")]


@given(st.text())
def test_any_console_text_parses_without_error(text: str) -> None:
    report = parse_e2e_console(text)
    assert all(t.outcome in ("PASSED", "FAILED") and t.name for t in report.tests)


@given(st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True), max_size=5), st.booleans())
def test_every_reported_test_is_read_back(names: list[str], passed: bool) -> None:
    verdict = "PASS" if passed else "FAIL"
    text = "".join(f"CI-PIPELINE-E2E-START {n}\nout {n}\nCI-PIPELINE-E2E {verdict} {n}\n" for n in names)
    report = parse_e2e_console(text + "CI-PIPELINE-E2E-DONE\n")
    assert [(t.name, t.output) for t in report.tests] == [(n, f"out {n}") for n in names]
    assert report.done


@given(st.text())
def test_parser_never_raises_and_needs_the_exact_words(text: str) -> None:
    report = parse_console(text)
    assert report.done == any(
        line.strip().strip("\x00").partition(" ")[0] == "CI-PIPELINE-BOOT-DONE" for line in text.splitlines()
    )
