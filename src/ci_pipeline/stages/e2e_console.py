"""What a machine of the e2e stage said on its serial console about the suite it ran.

The image's init prints, after the smoke test's lines (:func:`ci_pipeline.stages.smoke.parse_console`)::

    CI-PIPELINE-E2E-MACHINE <machine>
    CI-PIPELINE-E2E-START <test>        then the test's output
    CI-PIPELINE-E2E PASS <test>         or FAIL
    CI-PIPELINE-E2E-ERROR <reason>      the suite could not run (no disk, no network)
    CI-PIPELINE-E2E-DONE                every test has run

Other lines (kernel messages) are ignored, except inside a test's output, which keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ci_pipeline.stages.smoke import BootReport, parse_console

_OUTCOMES = {"PASS": "PASSED", "FAIL": "FAILED"}
MAX_TEST_LOG_CHARS = 64 * 1024


@dataclass(frozen=True)
class E2ETest:
    """One test's outcome on one machine and what it printed."""

    name: str
    outcome: str  # PASSED | FAILED
    output: str = ""


@dataclass
class E2EReport:
    """A machine's boot report and its suite's results."""

    boot: BootReport
    machine: str = ""
    tests: list[E2ETest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: bool = False


def parse_e2e_console(text: str) -> E2EReport:
    """Read the boot and e2e lines of a console (see the module docstring)."""
    report = E2EReport(boot=parse_console(text))
    running: str | None = None
    output: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().strip("\x00")
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "CI-PIPELINE-E2E-START" and value:
            running, output = value, []
        elif key == "CI-PIPELINE-E2E" and value:
            verdict, _, name = value.partition(" ")
            name = name.strip()
            if verdict in _OUTCOMES and name:
                kept = "\n".join(output) if name == running else ""
                report.tests.append(E2ETest(name, _OUTCOMES[verdict], kept[-MAX_TEST_LOG_CHARS:]))
                running = None
        elif key == "CI-PIPELINE-E2E-MACHINE" and value:
            report.machine = report.machine or value
        elif key == "CI-PIPELINE-E2E-ERROR":
            report.errors.append(value)
        elif key == "CI-PIPELINE-E2E-DONE":
            report.done = True
        elif running is not None:
            output.append(raw.rstrip("\r"))
    return report
