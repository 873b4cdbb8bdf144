"""What a booted image said on its serial console: the boot report, and the e2e suite's results.

The image's init must print (the example OS's ``ci-busybox`` does)::

    CI-PIPELINE-BOOTED
    CI-PIPELINE-OSTREE-COMMIT <checksum>   the deployment it booted (from ostree= on /proc/cmdline)
    CI-PIPELINE-COMMIT-FILE <checksum>     or: /usr/lib/ci-pipeline/commit; or CI-PIPELINE-COMMIT
    CI-PIPELINE-RPM <nvr>                  one per installed package (/usr/lib/ci-pipeline/nvr.d/*)
    CI-PIPELINE-BOOT-DONE

and, on a machine of the e2e stage, after those lines::

    CI-PIPELINE-E2E-MACHINE <machine>
    CI-PIPELINE-E2E-START <test>        then the test's output
    CI-PIPELINE-E2E PASS <test>         or FAIL
    CI-PIPELINE-E2E-ERROR <reason>      the suite could not run (no disk, no network)
    CI-PIPELINE-E2E-DONE                every test has run

Other lines (kernel messages) are ignored, except inside a test's output, which keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ci_pipeline.logtail import log_tail

CONSOLE_TAIL_LINES = 25
_COMMIT_KEYS = ("CI-PIPELINE-OSTREE-COMMIT", "CI-PIPELINE-COMMIT-FILE", "CI-PIPELINE-COMMIT")

_OUTCOMES = {"PASS": "PASSED", "FAIL": "FAILED"}
MAX_TEST_LOG_CHARS = 64 * 1024


@dataclass
class BootReport:
    """What the booted system said on its console."""

    booted: bool = False
    done: bool = False
    commits: dict[str, str] = field(default_factory=dict)
    rpms: list[str] = field(default_factory=list)

    @property
    def commit(self) -> str:
        """The booted commit, the most trustworthy report first (the deployment's own name)."""
        return next((self.commits[key] for key in _COMMIT_KEYS if key in self.commits), "")


def parse_console(text: str) -> BootReport:
    """Read the ``CI-PIPELINE-*`` lines of a serial console (other lines and noise are ignored)."""
    report = BootReport()
    for raw in text.splitlines():
        line = raw.strip().strip("\x00")
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "CI-PIPELINE-BOOTED":
            report.booted = True
        elif key == "CI-PIPELINE-BOOT-DONE":
            report.done = True
        elif key in _COMMIT_KEYS and value:
            report.commits.setdefault(key, value)
        elif key == "CI-PIPELINE-RPM" and value:
            report.rpms.append(value)
    return report


def console_tail(console: Path) -> str:
    """The console's last lines, for a failure reason."""
    return log_tail(console, CONSOLE_TAIL_LINES)


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
