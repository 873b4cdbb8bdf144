"""What a stage implementation receives and returns, and how it runs a tool.

A built-in stage is a module-level function ``run(ctx: StageContext) -> StageResult``: it runs in a
worker process, so everything it gets is plain data. It raises
:class:`~ci_pipeline.errors.StageFailure` when the work fails (status FAILURE, the message says why a
person should care) and :class:`~ci_pipeline.errors.InfrastructureError` when the machinery fails
(the stage may be retried).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import kill_group
from ci_pipeline.logtail import log_tail


@dataclass(frozen=True)
class StageContext:
    """Everything a stage knows about the run it works for."""

    run_id: int
    stage: str
    attempt: int
    #: The run's fields so far: repo, rev, branch, namespace, and the outputs of earlier stages
    #: (nvr, original_spec_nvr, package_url, compose_url, compose_rev, image_name, image_url, ...).
    fields: Mapping[str, str]
    #: An empty directory of this stage attempt's own.
    workdir: Path
    #: Files put here are kept as the stage's artifacts, served under :attr:`artifacts_url`.
    artifacts_dir: Path
    artifacts_url: str
    #: The stage's log file: tools append their output here.
    log_path: Path
    config: Config
    #: Per-run options: ``force_image`` and the like.
    options: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class TestCaseResult:
    """One test a stage ran."""

    name: str
    outcome: str  # PASSED | FAILED | ERROR | SKIPPED
    duration: float = 0.0
    log: str = ""


@dataclass(frozen=True)
class StageResult:
    """What a finished stage hands on: fields for later stages and messages, and its tests."""

    outputs: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    tests: Sequence[TestCaseResult] = ()


class StageFunction(Protocol):
    """The shape of a built-in stage."""

    def __call__(self, ctx: StageContext, /) -> StageResult: ...


def run_tool(
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    failure: str = "",
) -> None:
    """Run a command with its output appended to ``log_path``; its whole process group dies with it.

    A non-zero exit raises :class:`StageFailure` with ``failure`` (or the command) and the log's
    tail; a missing program raises :class:`InfrastructureError`.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=None if env is None else dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise InfrastructureError(f"The program {argv[0]} is not installed.") from exc
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            kill_group(process.pid)
            process.wait()
            raise StageFailure(
                f"{failure or argv[0]} did not finish within {timeout:g} s.\n{log_tail(log_path)}"
            ) from exc
        except BaseException:
            kill_group(process.pid)
            process.wait()
            raise
    if returncode != 0:
        what = failure or f"{' '.join(argv[:3])} exited with status {returncode}"
        raise StageFailure(f"{what}.\n{log_tail(log_path)}")
