"""The stage contract: what a stage attempt is given, what a stage returns, and how an attempt ended.

One neutral module that the engine, the executors, the stages and the store import: it imports
none of them, so none of them depends on another through it.

A built-in stage is a module-level function ``run(ctx: StageContext) -> StageResult``: it runs in a
worker process, so everything it gets is plain data. It raises
:class:`~ci_pipeline.errors.StageFailure` when the work fails (status FAILURE, the message says why a
person should care) and :class:`~ci_pipeline.errors.InfrastructureError` when the machinery fails
(the stage may be retried). A command stage is the same attempt with a ``command`` to run instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ci_pipeline.config import Config
from ci_pipeline.messages.topics import Status


@dataclass(frozen=True)
class StageContext:
    """One attempt of one stage of one run: everything its work knows, as plain data."""

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
    config: Config = field(default_factory=Config)
    #: Per-run options: ``force_image`` and the like.
    options: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    #: A bash command, or None for the built-in ``implementation`` (``module:function``).
    command: str | None = None
    implementation: str = ""

    @property
    def key(self) -> tuple[int, str]:
        """What identifies the attempt among running ones: (run id, stage)."""
        return (self.run_id, self.stage)


@dataclass(frozen=True)
class TestCaseResult:
    """One test a stage ran."""

    name: str
    outcome: str  # PASSED | FAILED | ERROR | SKIPPED, and from tmt INFO | NEEDS_INSPECTION
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


@dataclass(frozen=True)
class StageOutcome:
    """How a stage attempt ended, as an executor reports it."""

    run_id: int
    stage: str
    attempt: int
    status: Status
    reason: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    #: True when the machinery failed rather than the work: the stage may be retried.
    infrastructure: bool = False
    #: Seconds the attempt ran, from its start to its exit.
    duration: float = 0.0
    summary: str = ""
    #: The tests it ran, as :class:`TestCaseResult` fields.
    tests: tuple[Mapping[str, Any], ...] = ()

    @property
    def key(self) -> tuple[int, str]:
        """(run id, stage) of the attempt this outcome ends."""
        return (self.run_id, self.stage)
