"""A run's stages as bars on one time axis: the wait before each stage ran, its earlier attempts
when it was retried, and its (latest) attempt's run, so waiting and running are seen apart.

The store keeps a stage's queue time and its latest attempt's start and end: when a stage was
retried, the time between its queueing and its latest start holds the wait and the earlier attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol


class Part(StrEnum):
    """What a stretch of a stage's bar stands for."""

    WAITING = "waiting"
    RETRIES = "retries"
    RUNNING = "running"


@dataclass(frozen=True)
class Segment:
    """One stretch of a bar: where it starts and how wide it is, in percent of the axis."""

    part: Part
    left: float
    width: float
    seconds: float


class StageTimes(Protocol):
    """The times of a stage the bars are drawn from (a stage row has them)."""

    @property
    def queued_at(self) -> datetime | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def attempt(self) -> int: ...


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _spans(stage: StageTimes, now: datetime) -> list[tuple[Part, datetime, datetime]]:
    queued, started, finished = _utc(stage.queued_at), _utc(stage.started_at), _utc(stage.finished_at)
    spans = []
    if queued is not None:
        wait_end = started or finished or now
        spans.append((Part.RETRIES if stage.attempt > 1 else Part.WAITING, queued, max(queued, wait_end)))
    if started is not None:
        spans.append((Part.RUNNING, started, max(started, finished or now)))
    return spans


def stage_bars(stages: Sequence[StageTimes], now: datetime) -> tuple[list[list[Segment]], float]:
    """The segments of each stage's bar, and the seconds the whole axis spans (0 when nothing ran)."""
    spans = [_spans(stage, _utc(now) or now) for stage in stages]
    times = [moment for bar in spans for _part, start, end in bar for moment in (start, end)]
    if not times:
        return [[] for _ in stages], 0.0
    origin, total = min(times), (max(times) - min(times)).total_seconds()
    scale = 100.0 / total if total > 0 else 0.0
    bars = [
        [
            Segment(
                part,
                round(min(100.0, (start - origin).total_seconds() * scale), 3),
                round(min(100.0, (end - start).total_seconds() * scale), 3),
                (end - start).total_seconds(),
            )
            for part, start, end in bar
        ]
        for bar in spans
    ]
    return bars, total
