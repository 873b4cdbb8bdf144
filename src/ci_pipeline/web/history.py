"""A package's runs as a strip of outcomes per stage, and each stage's pass rate and median duration
over those runs: worked out from stage rows, for the package page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from ci_pipeline.store.listing import StageSummary
from ci_pipeline.store.rows import Run
from ci_pipeline.store.states import StageState, Status
from ci_pipeline.web.templating import chip_class


@dataclass(frozen=True)
class Cell:
    """One stage of one run in the strip: its CSS class and the words a screen reader says."""

    css: str
    label: str


@dataclass(frozen=True)
class StageFigures:
    """One stage over the runs shown: how many ended, how many passed, and the median duration (s)."""

    stage: str
    ended: int
    passed: int
    median_seconds: float | None

    @property
    def pass_rate(self) -> float | None:
        """The share of ended stages that passed; None when none ended."""
        return self.passed / self.ended if self.ended else None


def stage_names(rows: Sequence[StageSummary]) -> list[str]:
    """The stages that appear in ``rows``, in pipeline order."""
    positions: dict[str, int] = {}
    for row in rows:
        positions.setdefault(row.stage, row.position)
    return sorted(positions, key=lambda name: (positions[name], name))


def outcome_class(row: StageSummary | None) -> str:
    """A stage's CSS class: its status once complete, else its state ("none" for no row)."""
    if row is None:
        return "none"
    return chip_class(row.state, row.status)


def outcome_strip(runs: Sequence[Run], rows: Sequence[StageSummary]) -> tuple[list[str], list[list[Cell]]]:
    """Stage names and, per stage, one cell per run in the order of ``runs``."""
    by_run = {(row.run_id, row.stage): row for row in rows}
    names = stage_names(rows)
    strip = []
    for name in names:
        cells = []
        for run in runs:
            row = by_run.get((run.id, name))
            css = outcome_class(row)
            cells.append(Cell(css, f"run {run.id} {name}: {css}"))
        strip.append(cells)
    return names, strip


def stage_figures(rows: Sequence[StageSummary]) -> list[StageFigures]:
    """Pass rate and median duration of each stage over ``rows``, in pipeline order."""
    figures = []
    for name in stage_names(rows):
        ended = [r for r in rows if r.stage == name and r.state == StageState.COMPLETE]
        durations = [d for r in ended if (d := r.duration) is not None]
        passed = sum(1 for r in ended if r.status == Status.SUCCESS)
        figures.append(StageFigures(name, len(ended), passed, median(durations) if durations else None))
    return figures
