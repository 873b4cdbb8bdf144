"""The stages' view of the treefile: :mod:`ci_pipeline.treefile` read for a stage's run.

A treefile a stage cannot use fails the stage (:class:`StageFailure`) with the reader's sentence.
"""

from __future__ import annotations

from pathlib import Path

from ci_pipeline import treefile as reader
from ci_pipeline.errors import ConfigError, StageFailure
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.ostree.compose_install import releasever
from ci_pipeline.treefile import DEFAULT_OSNAME, Treefile

__all__ = ["DEFAULT_OSNAME", "Treefile", "load_treefile", "run_treefile"]


def load_treefile(path: Path, *, basearch: str = "x86_64", releasever: str | None = None) -> Treefile:
    """Read a treefile and its includes; a missing or broken one fails the stage."""
    if not path.is_file():
        raise StageFailure(f"The treefile {path} does not exist; set trigger.treefile.")
    try:
        return reader.load_treefile(path, basearch=basearch, releasever=releasever)
    except ConfigError as exc:
        raise StageFailure(str(exc)) from exc


def run_treefile(ctx: StageContext) -> Treefile:
    """The configured treefile for this run: the pipeline's architecture, the run branch's release."""
    if not ctx.config.trigger.treefile:
        raise StageFailure("No treefile is configured; set trigger.treefile to the OS's treefile.")
    return load_treefile(
        Path(ctx.config.trigger.treefile), basearch=ctx.config.pipeline.arch, releasever=releasever(ctx)
    )
